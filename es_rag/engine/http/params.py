"""URL parameters checked against Elasticsearch's REST API specification (``rest_api_spec.json``).

Every route's path shape is matched to the spec APIs served on it; a request then may carry only
the parameters those APIs define (plus the common ones), each parsed by its spec type with the
message Elasticsearch's ``RestRequest``/handlers give. A parameter the spec defines but the route
does not honour is answered with a ``Warning`` header instead of being ignored silently.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import BadRequest, EngineError

SPEC_FILE = Path(__file__).with_name("rest_api_spec.json")
# Response-formatting parameters every handler accepts (BaseRestHandler's response params).
RESPONSE_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path", "format", "source",
                             "source_content_type"})
# Parameters some routes list but no handler acts on: they are answered with a `Warning`.
# (Cluster-coordination knobs such as `preference`, `wait_for_active_shards`, `local` or
# `ccs_minimize_roundtrips` stay honoured: one node with one shard meets their contract as is.)
NOT_ACTED_ON = frozenset({
    "decompress_definition", "defer_definition_decompression",
    "force_synthetic_source", "include_source_on_error",
    "parameters", "preserve_existing", "reopen", "search_timeout",
    "write_index_only",
})
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INTEGER = re.compile(r"[+-]?\d+")
_TIME = re.compile(r"(-?\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)")
# The messages Elasticsearch's own parsers give for these enumerations.
_ENUM_MESSAGES = {
    "conflicts": 'conflicts may only be "proceed" or "abort" but was [{value}]',
    "version_type": "No version type match [{value}]",
    "op_type": "opType must be 'create' or 'index', found: [{value}]",
    "refresh": "Unknown value for refresh: [{value}].",
    "search_type": "No search type for [{value}]",
    "expand_wildcards": "No valid expand wildcard value [{value}]",
}


@dataclass(frozen=True)
class ParamSpec:
    """The parameters one route's spec APIs define: name -> spec entry (type, options)."""

    apis: tuple[str, ...]
    params: dict[str, dict[str, Any]]


@functools.cache
def _spec() -> dict[str, Any]:
    return orjson.loads(SPEC_FILE.read_bytes())


def _shape(segments: Iterable[str]) -> tuple[str, ...]:
    return tuple("{}" if s.startswith("{") else s for s in segments)


@functools.cache
def _by_shape() -> dict[tuple[str, tuple[str, ...]], list[str]]:
    index: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for name, api in _spec()["apis"].items():
        for path in api["paths"]:
            shape = _shape(s for s in path["path"].split("/") if s)
            for method in path["methods"]:
                index.setdefault((method, shape), []).append(name)
    return index


@functools.cache
def route_spec(method: str, segments: tuple[str, ...]) -> ParamSpec | None:
    """The spec APIs served on a route (method + path pattern) and their parameters, or None."""
    shape = _shape(segments)
    apis = _by_shape().get((method, shape)) or [
        api for (verb, spec_shape), names in _by_shape().items() if verb == method
        and len(spec_shape) == len(shape) and all(
            s == r or (s == "{}" and r == "_all") for s, r in zip(spec_shape, shape, strict=True))
        for api in names]  # `_all` spelled out where the spec has a part
    if not apis:
        return None
    params: dict[str, dict[str, Any]] = dict(_spec()["common_params"])
    for api in apis:
        params.update(_spec()["apis"][api]["params"])
    return ParamSpec(tuple(apis), params)


def _similarity(a: str, b: str) -> float:
    """Lucene's LevenshteinDistance: 1 - edit distance / longer length."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b), 1)


def unrecognized(path: str, invalid: list[str], candidates: Iterable[str]) -> str:
    """BaseRestHandler#unrecognized: the message naming unknown parameters, with suggestions."""
    parts = []
    for name in sorted(invalid):
        scored = sorted(((_similarity(name, c), c) for c in set(candidates)),
                        key=lambda pair: (-pair[0], pair[1]))
        keys = [c for score, c in scored if score > 0.5]
        hint = ""
        if keys:
            options = f"[{keys[0]}]" if len(keys) == 1 else f"any of {_java_list(keys)}"
            hint = f" -> did you mean {options}?"
        parts.append(f"[{name}]{hint}")
    plural = "s" if len(invalid) > 1 else ""
    return f"request [{path}] contains unrecognized parameter{plural}: {', '.join(parts)}"


def _java_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _check_integer(name: str, value: str, kind: str) -> None:
    low, high = _INT_RANGE[kind]
    if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
        raise BadRequest(f"Failed to parse {kind} parameter [{name}] with value [{value}]")


def _check_time(name: str, value: str) -> None:
    text = value.strip().lower()
    if text in ("-1", "0"):
        return
    found = _TIME.fullmatch(text)
    if not found:
        raise BadRequest(f"failed to parse setting [{name}] with value [{value}] as a time "
                         f"value: unit is missing or unrecognized")
    if float(found.group(1)) < 0:
        raise BadRequest(f"failed to parse setting [{name}] with value [{value}] as a time "
                         f"value: negative durations are not supported")


def _check_options(name: str, values: list[str], options: list[str]) -> None:
    allowed = {o.lower() for o in options}
    for value in values:
        if value.lower() not in allowed:
            template = _ENUM_MESSAGES.get(name, "[{name}] must be one of {options}, got [{value}]")
            raise BadRequest(template.format(name=name, value=value,
                                             options=_java_list(options)))


def _check_reindex_family(name: str, value: str) -> None:
    """The by-query/reindex handlers' own checks (AbstractBulkByQueryRestHandler)."""
    if name == "slices" and value != "auto" and not (value.isdigit() and int(value) >= 1):
        raise BadRequest(f'[slices] must be a positive integer or the string "auto", but was '
                         f"[{value}]")
    if name == "requests_per_second" and value != "-1":
        try:
            positive = float(value) > 0
        except ValueError:
            positive = False
        if not positive:
            raise BadRequest("[requests_per_second] must be a float greater than 0. Use -1 to "
                             "disable throttling.")
    if name == "max_docs" and int(value) < 0:
        raise BadRequest(f"[max_docs] parameter cannot be negative, found [{value}]")


# `_cat` column and sort lists take wildcards, aliases and `:desc` suffixes besides the options.
_PATTERN_LISTS = frozenset({"h", "s"})
_REINDEX_FAMILY = frozenset({"delete_by_query", "update_by_query", "reindex"})


def check_value(name: str, value: str, entry: dict[str, Any]) -> None:
    """Parse one parameter by its spec type; a bad value is Elasticsearch's 400."""
    kind = entry["type"]
    if kind == "boolean":
        if value not in ("", "true", "false"):
            raise BadRequest(f"Failed to parse value [{value}] as only [true] or [false] are "
                             f"allowed.")
    elif kind in _INT_RANGE:
        _check_integer(name, value, kind)
    elif kind == "time":
        _check_time(name, value)
    elif kind == "enum" and entry.get("options"):
        if not (value == "" and "true" in entry["options"]):  # `?refresh` means true
            _check_options(name, [value], entry["options"])
    elif kind == "list" and entry.get("options") and name not in _PATTERN_LISTS:
        _check_options(name, [v.strip() for v in value.split(",") if v.strip()],
                       entry["options"])


def check(path: str, params: dict[str, str], method: str, segments: tuple[str, ...],
          honoured: frozenset[str]) -> list[str]:
    """Validate a request's URL parameters for a route; return the names it will ignore.

    Unknown names and unparsable values raise Elasticsearch's 400; ``honoured`` are the
    parameters the route's handler implements (others the spec defines are ignored).
    """
    spec = route_spec(method, segments)
    known = RESPONSE_PARAMS | honoured | (spec.params.keys() if spec else frozenset())
    honoured = honoured - NOT_ACTED_ON
    invalid = [name for name in params if name not in known]
    if invalid:
        raise EngineError(unrecognized(path, invalid, known - RESPONSE_PARAMS), status=400,
                          error_type="illegal_argument_exception")
    if spec is None:
        return []
    for name, value in params.items():
        entry = spec.params.get(name)
        if entry is not None:
            check_value(name, value, entry)
            if _REINDEX_FAMILY.intersection(spec.apis):
                _check_reindex_family(name, value)
    return sorted(n for n in params if n not in honoured and n not in RESPONSE_PARAMS)


def ignored_warning(names: list[str], version: str) -> str:
    """The ``Warning`` header value for parameters accepted but not acted on."""
    listed = ", ".join(f"[{n}]" for n in names)
    return (f'299 Elasticsearch-{version} "this engine accepts but ignores the parameter'
            f'{"s" if len(names) > 1 else ""} {listed}"')
