"""The regression gate: compare an evaluation with a stored baseline, metric by metric.

A baseline is the `--json` summary of an earlier run (`{"dataset", "queries", "subset",
"configs": {name: {metric: value}}}`). A metric of a configuration present in both regresses
when it dropped by more than `max_drop` (absolute).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError
from es_rag.evaluate.run import EvaluationReport

_SAME_RUN = ("dataset", "split", "subset", "queries", "chunk_size")


class BaselineError(EsRagError, ValueError):
    """The baseline file is unreadable or was measured on something else; the message says why."""


@dataclass(frozen=True)
class Regression:
    """One metric of one configuration that dropped more than allowed."""

    config: str
    metric: str
    baseline: float
    measured: float

    @property
    def drop(self) -> float:
        return self.baseline - self.measured

    def __str__(self) -> str:
        return (f"{self.config} {self.metric}: {self.measured:.4f} < baseline "
                f"{self.baseline:.4f} (drop {self.drop:.4f})")


def comparable_baseline(path: Path | str, summary: dict[str, Any], same_run: tuple[str, ...],
                        max_drop: float) -> dict[str, Any]:
    """The baseline at `path`, refused (BaselineError) when one of the `same_run` fields it
    records differs from this run's `summary`, or when `max_drop` is negative."""
    if max_drop < 0:
        raise ValueError(f"max_drop must not be negative, got {max_drop}")
    baseline = read_baseline(path)
    for key in same_run:
        if key in baseline and baseline[key] != summary[key]:
            raise BaselineError(f"{path}: baseline {key} is {baseline[key]!r}, this "
                                f"run's is {summary[key]!r}; re-measure the baseline")
    return baseline


def read_baseline(path: Path | str) -> dict[str, Any]:
    """A baseline file, checked for the fields the gate needs."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    configs = data.get("configs") if isinstance(data, dict) else None
    if not isinstance(configs, dict) or not all(isinstance(v, dict) for v in configs.values()):
        raise BaselineError(f"{path}: expected {{\"configs\": {{name: {{metric: value}}}}}}")
    return data


def write_baseline(report: EvaluationReport, path: Path | str) -> Path:
    """Store the report's summary as the new baseline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = report.summary()
    kept = {k: summary[k] for k in (*_SAME_RUN, "configs")}
    path.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    return path


def check_baseline(report: EvaluationReport, baseline_path: Path | str,
                   max_drop: float = 0.01) -> list[Regression]:
    """Every metric that dropped more than `max_drop` below the baseline (empty: gate passes).

    Raises BaselineError when the baseline was measured on another dataset, split, subset,
    number of queries or chunk size, or shares no configuration with the report.
    """
    summary = report.summary()
    baseline = comparable_baseline(baseline_path, summary, _SAME_RUN, max_drop)
    shared = [name for name in baseline["configs"] if name in summary["configs"]]
    if not shared:
        raise BaselineError(f"{baseline_path}: no configuration in common (baseline: "
                            f"{', '.join(baseline['configs'])}; run: "
                            f"{', '.join(summary['configs'])})")
    regressions = []
    for name in shared:
        measured = report.configs[name].means
        for metric, value in baseline["configs"][name].items():
            if metric in measured and float(value) - measured[metric] > max_drop + 1e-9:
                regressions.append(Regression(name, metric, float(value), measured[metric]))
    return regressions
