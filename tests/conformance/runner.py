"""Run YAML REST test cases on a target: prerequisites, setup, steps, teardown, cluster wipe."""

from __future__ import annotations

import base64
import enum
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from .api_call import ParamError, Response, TransportFailure, build_request, send
from .assertions import ASSERTIONS, PATH_ONLY, AssertionFailure
from .prerequisites import PrerequisiteError, Target, skip_reason
from .stash import Stash, StashError, java_string
from .suite import Section, TestCase
from .unsupported import Unsupported
from .wipe import ClusterWiper, WipeError

# Upstream catch names -> the status they expect.
CATCH_STATUSES = {"bad_request": 400, "unauthorized": 401, "forbidden": 403, "missing": 404,
                  "request_timeout": 408, "conflict": 409, "gone": 410, "unavailable": 503}
# `catch: request` means any error other than these (503 included, as upstream).
_NAMED_CLIENT_ERRORS = frozenset({400, 401, 403, 404, 408, 409, 410})
_TRANSFORM = re.compile(r"^#(\w+)\((.*)\)$")
TEARDOWN_TIMEOUT = 30.0
RESPONSE_EXCERPT = 600


class Outcome(enum.Enum):
    """How a test ended."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass
class TestResult:
    """The outcome of one test: skip reason or failing step, and the response it got."""

    test: TestCase
    outcome: Outcome
    detail: str = ""
    response: str | None = None
    seconds: float = 0.0


class StepFailure(Exception):
    """A step did not do what the test expects; carries the response it got, if any."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response


@dataclass
class _Context:
    stash: Stash
    deadline: float
    time_limit: float
    response: Response | None = None
    trace: list[str] = field(default_factory=list)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StepFailure(f"test exceeded its {self.time_limit:g} s time limit")
        return left

    def actual(self, path: str) -> Any:
        return self.stash.evaluate(self.response.body if self.response else None, str(path))


def _describe(kind: str, value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return f"{kind} {text if len(text) <= 160 else text[:157] + '...'}"


LEGACY_TEMPLATE_DEPRECATION = ("Legacy index templates are deprecated in favor of composable "
                               "templates.")


def _check_warnings(response: Response, expected: list[str], expected_regex: list[str],
                    allowed: list[str], allowed_regex: list[str]) -> None:
    missing = list(expected)
    missing_regex = list(expected_regex)
    unexpected = []
    messages = response.warnings
    raw = response.headers.get("warning")
    if raw and not messages:
        unexpected.append(raw)
    for message in messages:
        if message in allowed:
            continue
        if message in missing:
            missing.remove(message)
            continue
        matched = next((p for p in missing_regex if re.fullmatch(p, message)), None)
        if matched is not None:
            missing_regex.remove(matched)
            continue
        if any(re.fullmatch(p, message) for p in allowed_regex):
            continue
        unexpected.append(message)
    # as Elasticsearch's DoSection: the legacy template deprecation is never unexpected (many
    # upstream tests still set up legacy templates without allowing it)
    unexpected = [m for m in unexpected if m != LEGACY_TEMPLATE_DEPRECATION]
    problems = []
    if unexpected:
        problems.append(f"got unexpected warning header(s) {unexpected}")
    if missing or missing_regex:
        problems.append(f"did not get expected warning header(s) {missing + missing_regex}")
    if problems:
        raise StepFailure("; ".join(problems), response)


def _check_catch(catch: str, api: str, response: Response) -> None:
    status = response.status
    got = f"api [{api}] returned [{status}]"
    if catch in CATCH_STATUSES:
        if status != CATCH_STATUSES[catch]:
            raise StepFailure(f"expected [{CATCH_STATUSES[catch]}] status code but {got}", response)
    elif catch == "request":
        if status < 400 or status in _NAMED_CLIENT_ERRORS:
            raise StepFailure(f"expected a 4xx/5xx status code (catch: request) but {got}",
                              response)
    elif len(catch) > 2 and catch.startswith("/") and catch.endswith("/"):
        if status < 400:
            raise StepFailure(f"expected [4xx|5xx] status code but {got}", response)
        error = response.body.get("error") if isinstance(response.body, dict) else None
        if error is None:
            raise StepFailure("error was expected in the response", response)
        if not re.search(catch[1:-1], java_string(error)):
            raise StepFailure(
                f"the error message was expected to match {catch} but didn't", response)
    else:
        raise StepFailure(f"catch value [{catch}] not supported")


class Runner:
    """Runs test cases one by one against one target and returns their results."""

    def __init__(self, client: Elasticsearch, target: Target, unsupported: Unsupported, *,
                 test_timeout: float = 60.0, wiper: ClusterWiper | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self._client = client
        self._target = target
        self._unsupported = unsupported
        self._test_timeout = test_timeout
        self._wiper = wiper if wiper is not None else ClusterWiper(client)
        self._log = log

    def run(self, test: TestCase) -> TestResult:
        """Run one test (setup, steps, teardown, wipe) and say how it ended."""
        started = time.monotonic()
        try:
            reason = (skip_reason(test.setup.prerequisites, self._target)
                      or skip_reason(test.body.prerequisites, self._target)
                      or self._unsupported.reason_for(test))
        except PrerequisiteError as exc:
            return TestResult(test, Outcome.FAIL, f"malformed skip/requires section: {exc}")
        if reason:
            return TestResult(test, Outcome.SKIP, reason)
        context = _Context(Stash({"_project_id_prefix_": ""}), started + self._test_timeout,
                           self._test_timeout)
        failure = None
        try:
            self._run_section("setup", test.setup, context)
            self._run_section("test", test.body, context)
        except _SectionFailure as exc:
            failure = exc
        context.deadline = time.monotonic() + TEARDOWN_TIMEOUT
        context.time_limit = TEARDOWN_TIMEOUT
        try:
            self._run_section("teardown", test.teardown, context)
        except _SectionFailure as exc:
            failure = failure or exc
        try:
            self._wiper.wipe()
        except (WipeError, TransportFailure) as exc:
            failure = failure or _SectionFailure(f"cluster wipe after the test: {exc}", None)
        seconds = time.monotonic() - started
        if failure:
            return TestResult(test, Outcome.FAIL, str(failure), failure.response_text, seconds)
        return TestResult(test, Outcome.PASS, seconds=seconds)

    def _run_section(self, name: str, section: Section, context: _Context) -> None:
        for number, step in enumerate(section.steps, start=1):
            kind, value = next(iter(step.items()))
            try:
                self._run_step(kind, value, context)
            except (StepFailure, AssertionFailure, StashError) as exc:
                # A failed call shows its own answer (or none); an assertion the current response.
                response = getattr(exc, "response", None) if kind == "do" else context.response
                raise _SectionFailure(
                    f"{name} step {number} ({_describe(kind, value)}): {exc}",
                    response.text() if response else None) from exc
            except Exception as exc:  # a runner bug or odd data: report it, keep the run going
                raise _SectionFailure(
                    f"{name} step {number} ({_describe(kind, value)}): runner error "
                    f"{type(exc).__name__}: {exc}", None) from exc

    def _run_step(self, kind: str, value: Any, context: _Context) -> None:
        if kind == "do":
            self._do(value, context)
        elif kind == "set":
            for path, name in _pairs(kind, value):
                context.stash.put(str(name), context.actual(path))
        elif kind == "transform_and_set":
            for name, transform in _pairs(kind, value):
                context.stash.put(str(name), self._transform(str(transform), context))
        elif kind in ASSERTIONS:
            check = ASSERTIONS[kind]
            if kind in PATH_ONLY:
                check(str(value), context.actual(str(value)), None)
            else:
                for path, expected in _pairs(kind, value):
                    check(str(path), context.actual(str(path)), context.stash.resolve(expected))
        else:
            raise StepFailure(f"unknown step [{kind}]")

    def _transform(self, transform: str, context: _Context) -> str:
        found = _TRANSFORM.match(transform.strip())
        if found and found.group(1) == "base64EncodeInput":
            text = context.stash.resolve_text(found.group(2))
            return base64.b64encode(text.encode()).decode()
        if not found or found.group(1) != "base64EncodeCredentials":
            raise StepFailure(f"unsupported transformation [{transform}]")
        paths = [p.strip() for p in found.group(2).split(",")]
        if len(paths) != 2:
            raise StepFailure(f"base64EncodeCredentials needs two paths, got {paths}")
        user, secret = (context.actual(p) for p in paths)
        return base64.b64encode(f"{user}:{secret}".encode()).decode()

    def _do(self, value: Any, context: _Context) -> None:
        if not isinstance(value, dict):
            raise StepFailure(f"[do] must be a map, got {value!r}")
        spec = dict(value)
        catch = spec.pop("catch", None)
        headers = spec.pop("headers", None) or {}
        expected = spec.pop("warnings", None) or []
        expected_regex = spec.pop("warnings_regex", None) or []
        allowed = spec.pop("allowed_warnings", None) or []
        allowed_regex = spec.pop("allowed_warnings_regex", None) or []
        if "node_selector" in spec:
            raise StepFailure("node_selector is not supported by this runner")
        if len(spec) != 1:
            raise StepFailure(f"[do] needs exactly one api call, got {sorted(spec)}")
        api, arguments = next(iter(spec.items()))
        if catch == "param":
            return  # a client-side validation error: like upstream, nothing is sent
        try:
            request = build_request(api, arguments, headers, context.stash)
        except ParamError as exc:
            raise StepFailure(f"client-side error: {exc}") from exc
        started = time.monotonic()
        try:
            response = send(self._client, request, context.remaining())
        except TransportFailure as exc:
            raise StepFailure(f"{request.describe()} got no usable answer: {exc}") from exc
        if self._log:
            self._log(f"    {request.describe()} -> {response.status} "
                      f"({(time.monotonic() - started) * 1000:.0f} ms)")
        context.response = response
        context.stash.put("body", response.body)
        if catch is not None:
            _check_catch(str(catch), api, response)
            return
        head_missing = response.method == "HEAD" and response.status == 404
        if response.is_error and not head_missing and response.status not in request.ignore:
            raise StepFailure(
                f"expected [2xx] status code but api [{api}] returned [{response.status}]",
                response)
        _check_warnings(response, expected, expected_regex, allowed, allowed_regex)


class _SectionFailure(Exception):
    def __init__(self, message: str, response_text: str | None) -> None:
        super().__init__(message)
        self.response_text = response_text


def _pairs(kind: str, value: Any) -> list[tuple[Any, Any]]:
    if not isinstance(value, dict) or not value:
        raise StepFailure(f"[{kind}] must be a map of path: value, got {value!r}")
    return list(value.items())
