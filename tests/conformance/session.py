"""Run every YAML REST test under a directory against one target and collect the results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch

from .api_call import TransportFailure
from .runner import Outcome, Runner, TestResult
from .suite import Section, SuiteFormatError, TestCase, area_of, discover, load_file
from .target import discover_target
from .unsupported import Unsupported, load_unsupported
from .wipe import ClusterWiper, WipeError


def collect(root: Path, pattern: str | None = None) -> tuple[list[TestCase], list[TestResult]]:
    """Test cases under root whose id contains pattern (case-insensitive), plus one failed result
    per file that cannot be parsed."""
    tests: list[TestCase] = []
    broken: list[TestResult] = []
    for path in discover(root):
        area = area_of(path, root)
        try:
            cases = load_file(path, area)
        except SuiteFormatError as exc:
            placeholder = TestCase(path, area, "(file)", Section(), Section(), Section())
            broken.append(TestResult(placeholder, Outcome.FAIL, str(exc)))
            continue
        tests.extend(c for c in cases if not pattern or pattern.lower() in c.test_id.lower())
    return tests, broken


def run_directory(root: Path, client: Elasticsearch, *, pattern: str | None = None,
                  test_timeout: float = 60.0, unsupported: Unsupported | None = None,
                  on_result: Callable[[TestResult], None] | None = None,
                  log: Callable[[str], None] | None = None) -> list[TestResult]:
    """Run the tests under root (filtered by ``pattern``) against the client's cluster.

    The cluster is wiped after every test, so never point this at a cluster holding data you need.
    """
    if not root.is_dir():
        raise NotADirectoryError(f"conformance test directory not found: {root}")
    tests, results = collect(root, pattern)
    target = discover_target(client)
    if target.problem and log:
        log(f"warning: {target.problem}; version-gated tests will be skipped")
    wiper = ClusterWiper(client)
    try:
        wiper.wipe()  # a --url target may hold leftovers of an earlier run
    except (WipeError, TransportFailure) as exc:
        if log:
            log(f"warning: initial cluster wipe failed: {exc}")
    runner = Runner(client, target, unsupported or load_unsupported(),
                    test_timeout=test_timeout, wiper=wiper, log=log)
    for result in results:
        if on_result:
            on_result(result)
    for test in tests:
        if log:
            log(f"RUN  {test.test_id}")
        result = runner.run(test)
        results.append(result)
        if on_result:
            on_result(result)
    return results
