"""Print conformance results: one line per test, a per-area table, the totals (text or JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .runner import Outcome, TestResult

_KEYS = {Outcome.PASS: "passed", Outcome.FAIL: "failed", Outcome.SKIP: "skipped"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def result_line(result: TestResult, verbose: bool = False, excerpt: int = 600) -> str:
    """``PASS id``, ``SKIP id: reason``, ``FAIL id: failing step | response: …`` (truncated)."""
    line = f"{result.outcome.value} {result.test.test_id}"
    if result.outcome is Outcome.PASS:
        return f"{line} ({result.seconds:.2f} s)" if verbose else line
    line = f"{line}: {_one_line(result.detail)}"
    if result.outcome is Outcome.FAIL and result.response is not None:
        response = result.response if verbose else _one_line(result.response)
        if not verbose and len(response) > excerpt:
            response = response[:excerpt] + f"... [{len(result.response)} chars]"
        line += f"\n    response: {response}" if verbose else f" | response: {response}"
    return line


def summarize(results: Iterable[TestResult]) -> dict[str, Any]:
    """``{"passed", "failed", "skipped", "by_area": {area: {"passed", "failed", "skipped"}}}``."""
    summary: dict[str, Any] = {"passed": 0, "failed": 0, "skipped": 0, "by_area": {}}
    by_file: dict[str, dict[str, int]] = {}
    for result in results:
        key = _KEYS[result.outcome]
        area = summary["by_area"].setdefault(
            result.test.area, {"passed": 0, "failed": 0, "skipped": 0})
        area[key] += 1
        summary[key] += 1
        file_id = result.test.test_id.split(" :: ")[0]
        by_file.setdefault(file_id, {"passed": 0, "failed": 0, "skipped": 0})[key] += 1
    summary["by_area"] = dict(sorted(summary["by_area"].items()))
    rates = [rate for counts in by_file.values() if (rate := pass_rate(counts)) is not None]
    summary["mean_file_pass_rate"] = round(sum(rates) / len(rates), 4) if rates else None
    return summary


def rates_line(summary: dict[str, Any]) -> str:
    """Pass rate of the tests that ran, mean per-file pass rate and the skipped share."""
    total = summary["passed"] + summary["failed"] + summary["skipped"]
    mean = summary.get("mean_file_pass_rate")
    skipped = summary["skipped"] / total if total else 0.0
    return (f"{_rate_text(summary)} of run tests passed, mean per-file pass rate "
            f"{'-' if mean is None else f'{mean:.1%}'}, {skipped:.1%} skipped")


def pass_rate(counts: dict[str, Any]) -> float | None:
    """passed / (passed + failed); None when nothing ran."""
    ran = counts["passed"] + counts["failed"]
    return counts["passed"] / ran if ran else None


def _rate_text(counts: dict[str, Any]) -> str:
    rate = pass_rate(counts)
    return "-" if rate is None else f"{rate:.1%}"


def area_table(summary: dict[str, Any]) -> str:
    """A table of passed/failed/skipped and pass rate per area, with a total row."""
    rows = [(area, counts) for area, counts in summary["by_area"].items()]
    rows.append(("total", summary))
    width = max([len("area")] + [len(area) for area, _ in rows])
    lines = [f"{'area':<{width}}  {'passed':>6}  {'failed':>6}  {'skipped':>7}  {'pass rate':>9}"]
    for area, counts in rows:
        lines.append(f"{area:<{width}}  {counts['passed']:>6}  {counts['failed']:>6}  "
                     f"{counts['skipped']:>7}  {_rate_text(counts):>9}")
    return "\n".join(lines)


def summary_line(summary: dict[str, Any]) -> str:
    """``N passed, M failed, K skipped``."""
    return f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped"


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as one line of JSON."""
    return json.dumps(summary, separators=(", ", ": "))
