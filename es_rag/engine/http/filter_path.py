"""`?filter_path=`: include/exclude response paths with `*`, `**` and `-` as Elasticsearch does."""

from __future__ import annotations

import fnmatch
from typing import Any

_MISSING = object()


def _match(pattern: str, key: str) -> bool:
    return pattern == key or ("*" in pattern and fnmatch.fnmatchcase(key, pattern))


def _include(node: Any, patterns: list[list[str]]) -> Any:
    if any(not p or p == ["**"] for p in patterns):
        return node
    if isinstance(node, list):
        items = [r for r in (_include(v, patterns) for v in node) if r is not _MISSING]
        return items if items else _MISSING
    if not isinstance(node, dict):
        return _MISSING
    out = {}
    for key, value in node.items():
        subs: list[list[str]] = []
        for p in patterns:
            if p[0] == "**":
                subs.append(p)
                if len(p) > 1 and _match(p[1], key):
                    subs.append(p[2:])
            elif _match(p[0], key):
                subs.append(p[1:])
        if subs:
            result = _include(value, subs)
            if result is not _MISSING:
                out[key] = result
    return out if out else _MISSING


def _exclude(node: Any, patterns: list[list[str]]) -> Any:
    if isinstance(node, list):
        return [_exclude(v, patterns) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        subs: list[list[str]] = []
        drop = False
        for p in patterns:
            if p[0] == "**":
                if len(p) > 1 and _match(p[1], key):
                    if len(p) == 2:
                        drop = True
                    else:
                        subs.append(p[2:])
                subs.append(p)
            elif _match(p[0], key):
                if len(p) == 1:
                    drop = True
                else:
                    subs.append(p[1:])
        if drop:
            continue
        out[key] = _exclude(value, subs) if subs else value
    return out


def apply_filter_path(body: Any, spec: str) -> Any:
    """The response body reduced to the paths of a `filter_path` value."""
    includes = [p.strip().split(".") for p in spec.split(",") if p.strip() and
                not p.strip().startswith("-")]
    excludes = [p.strip()[1:].split(".") for p in spec.split(",")
                if p.strip().startswith("-")]
    if includes:
        body = _include(body, includes)
        if body is _MISSING:
            return {}
    if excludes:
        body = _exclude(body, excludes)
    return body
