"""`_source` filtering (includes/excludes with wildcards) for get, mget and search."""

from __future__ import annotations

import fnmatch
from typing import Any

from .errors import ParsingError


def parse_source_spec(spec: Any, includes: Any = None, excludes: Any = None
                      ) -> tuple[bool, list[str], list[str]]:
    """(fetch, includes, excludes) from `_source` (bool, string, list or object) and params."""
    fetch, inc, exc = True, [], []
    if spec is False or spec in ("false",):
        fetch = False
    elif spec in (True, "true", None):
        pass
    elif isinstance(spec, str):
        inc = spec.split(",")
    elif isinstance(spec, list):
        inc = [str(s) for s in spec]
    elif isinstance(spec, dict):
        for key, value in spec.items():
            if key not in ("includes", "include", "excludes", "exclude") and not (
                    key in ("exclude_vectors", "include_vectors") and isinstance(value, bool)):
                raise ParsingError(f"Unknown key for a {json_token(value)} in [{key}].")
        inc = _as_list(spec.get("includes", spec.get("include")))
        exc = _as_list(spec.get("excludes", spec.get("exclude")))
    else:
        raise ParsingError("[_source] must be a boolean, a string, an array or an object")
    if includes:
        inc = _as_list(includes)
        fetch = True
    if excludes:
        exc = _as_list(excludes)
        fetch = True
    return fetch, inc, exc


def hidden_metadata(spec: Any, includes: list[str], excludes: list[str]) -> list[str]:
    """`excludes` plus `_inference_fields` (semantic_text chunks and embeddings), which
    `_source` shows only when asked: `exclude_vectors: false`, `include_vectors: true`, or an
    include naming it (as Elasticsearch 9.x)."""
    if isinstance(spec, dict) and (spec.get("exclude_vectors") is False or
                                   spec.get("include_vectors") is True):
        return excludes
    if any(p == "_inference_fields" or p.startswith("_inference_fields.") for p in includes):
        return excludes
    return [*excludes, "_inference_fields"]


def excludes_vectors(spec: Any) -> bool:
    """Whether a `_source` object asks to leave vector fields out (`exclude_vectors: true`)."""
    return isinstance(spec, dict) and spec.get("exclude_vectors") is True


def json_token(value: Any) -> str:
    """The name Elasticsearch's parser gives the JSON token a value starts with."""
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    return "VALUE_NULL" if value is None else "VALUE_STRING"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def filter_source(source: dict[str, Any], includes: list[str], excludes: list[str]
                  ) -> dict[str, Any]:
    """The source with only included paths and without excluded ones."""
    if not includes and not excludes:
        return source
    return _filter(source, "", includes, excludes)


def _filter(obj: dict[str, Any], prefix: str, inc: list[str], exc: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = prefix + key
        if exc and _matches(path, exc):
            continue
        full = not inc or _matches(path, inc)
        if full and not exc:
            out[key] = value
        elif isinstance(value, dict):
            child = _filter(value, path + ".", [] if full else inc, exc)
            if child or (full and not value):
                out[key] = child
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            items = [_filter(v, path + ".", [] if full else inc, exc) if isinstance(v, dict)
                     else v for v in value if full or isinstance(v, dict)]
            items = [v for v in items if v != {}]
            if items:
                out[key] = items
        elif full:
            out[key] = value
    return out


def source_values(source: dict[str, Any], path: str) -> list[str]:
    """The scalar values at a dotted `path` of a source document, as strings (a multi-field
    such as `title.keyword` reads its parent's values)."""
    parts = path.split(".")
    nodes: list[Any] = [source]
    for i, part in enumerate(parts):
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, dict) and part in node:
                value = node[part]
                nxt.extend(value if isinstance(value, list) else [value])
        if not nxt and i > 0:
            # a multi-field (`title.keyword`) reads its parent's value
            return [str(v) for v in nodes if not isinstance(v, dict | list) and v is not None]
        nodes = nxt
    return [str(v) for v in nodes if not isinstance(v, dict | list) and v is not None]
