"""Filters on chunk fields (metadata.* included), typed, parsed from CLI strings, compiled to DSL.

Filters are applied inside every retrieval leg (the BM25 `bool.filter` and the kNN `filter`),
never after retrieval, so a kNN search returns k hits whenever k matching chunks exist.

Syntax of a filter string (several filters are ANDed)::

    metadata.lang=en            field equals value
    metadata.lang!=en           field does not equal value
    mime_type in [text/html, application/pdf]
    mime_type not in [text/html]
    page>=3   page>3   page<10   page<=10      range, numbers or dates (updated_at>=2024-01-31)
    metadata.reviewed exists    field has a value
    metadata.reviewed !exists   field has no value
    source^=docs/guide          field starts with the prefix
    not <filter>                negates any filter

Bare values that read as numbers become numbers; quote them ("3" or '3') to keep a string.

>>> parse_filter("page>=3").to_query()
{'range': {'page': {'gte': 3}}}
>>> parse_filter("mime_type in [a, b]").to_query()
{'terms': {'mime_type': ['a', 'b']}}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from es_rag.errors import EsRagError

Value = str | int | float

_FIELD = r"(?P<field>[A-Za-z_@][\w.@-]*)"
_FIELD_RE = re.compile(_FIELD + r"$")
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("not_in", re.compile(_FIELD + r"\s+not\s+in\s+\[(?P<value>.*)\]$")),
    ("in", re.compile(_FIELD + r"\s+in\s+\[(?P<value>.*)\]$")),
    ("missing", re.compile(_FIELD + r"\s+!exists$")),
    ("exists", re.compile(_FIELD + r"\s+exists$")),
    ("prefix", re.compile(_FIELD + r"\s*\^=\s*(?P<value>.+)$")),
    ("ne", re.compile(_FIELD + r"\s*!=\s*(?P<value>.+)$")),
    ("gte", re.compile(_FIELD + r"\s*>=\s*(?P<value>.+)$")),
    ("lte", re.compile(_FIELD + r"\s*<=\s*(?P<value>.+)$")),
    ("gt", re.compile(_FIELD + r"\s*>\s*(?P<value>.+)$")),
    ("lt", re.compile(_FIELD + r"\s*<\s*(?P<value>.+)$")),
    ("eq", re.compile(_FIELD + r"\s*=\s*(?P<value>.+)$")),
]
SYNTAX_HELP = ("field=value, field!=value, field in [a, b], field not in [a, b], field>=n "
               "(also >, <, <=; numbers or dates), field exists, field !exists, "
               "field^=prefix, not <filter>")


class FilterError(EsRagError, ValueError):
    """A filter string or spec that cannot be understood; the message shows the accepted syntax."""


def _check_field(name: str) -> str:
    if not _FIELD_RE.match(name):
        raise FilterError(f"invalid field name {name!r} in filter")
    return name


@dataclass(frozen=True)
class Eq:
    """`field` equals `value` (a term query: exact on keyword, number and date fields)."""

    field: str
    value: Value

    def to_query(self) -> dict[str, Any]:
        return {"term": {self.field: self.value}}


@dataclass(frozen=True)
class In:
    """`field` equals one of `values`."""

    field: str
    values: tuple[Value, ...]

    def to_query(self) -> dict[str, Any]:
        return {"terms": {self.field: list(self.values)}}


@dataclass(frozen=True)
class Range:
    """`field` within bounds; any of gt/gte/lt/lte may be set (numbers or date strings)."""

    field: str
    gt: Value | None = None
    gte: Value | None = None
    lt: Value | None = None
    lte: Value | None = None

    def __post_init__(self) -> None:
        if all(b is None for b in (self.gt, self.gte, self.lt, self.lte)):
            raise FilterError(f"range filter on {self.field!r} has no bound")

    def to_query(self) -> dict[str, Any]:
        bounds = {k: v for k in ("gt", "gte", "lt", "lte") if (v := getattr(self, k)) is not None}
        return {"range": {self.field: bounds}}


@dataclass(frozen=True)
class Exists:
    """`field` has a value."""

    field: str

    def to_query(self) -> dict[str, Any]:
        return {"exists": {"field": self.field}}


@dataclass(frozen=True)
class Prefix:
    """`field` starts with `value` (keyword fields)."""

    field: str
    value: str

    def to_query(self) -> dict[str, Any]:
        return {"prefix": {self.field: self.value}}


@dataclass(frozen=True)
class Not:
    """The negation of another filter."""

    inner: Filter

    def to_query(self) -> dict[str, Any]:
        return {"bool": {"must_not": [self.inner.to_query()]}}


Filter = Eq | In | Range | Exists | Prefix | Not


def _parse_value(raw: str) -> Value:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    if not raw or raw[0] in "=<>!":
        raise FilterError(f"missing value in filter (got {raw!r})")
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def _parse_list(raw: str) -> tuple[Value, ...]:
    items = [item for item in raw.split(",") if item.strip()]
    if not items:
        raise FilterError("empty list in filter: 'in [...]' needs at least one value")
    return tuple(_parse_value(item) for item in items)


def parse_filter(text: str) -> Filter:
    """Parse one filter string (see the module docstring for the syntax)."""
    spec = text.strip()
    if spec.lower().startswith("not "):
        return Not(parse_filter(spec[4:]))
    for op, pattern in _PATTERNS:
        m = pattern.match(spec)
        if not m:
            continue
        name = _check_field(m["field"])
        if op in ("exists", "missing"):
            return Exists(name) if op == "exists" else Not(Exists(name))
        raw = m["value"]
        if op in ("in", "not_in"):
            f: Filter = In(name, _parse_list(raw))
            return f if op == "in" else Not(f)
        value = _parse_value(raw)
        if op == "eq":
            return Eq(name, value)
        if op == "ne":
            return Not(Eq(name, value))
        if op == "prefix":
            return Prefix(name, str(value))
        return Range(name, **{op: value})
    raise FilterError(f"cannot parse filter {text!r}; accepted forms: {SYNTAX_HELP}")


def parse_filters(specs: str | Iterable[str | Filter] | None) -> tuple[Filter, ...]:
    """Parse filter strings (a single string or many); typed filters pass through unchanged."""
    if specs is None:
        return ()
    if isinstance(specs, str):
        specs = [specs]
    return tuple(s if not isinstance(s, str) else parse_filter(s) for s in specs)


def filter_clauses(filters: Sequence[Filter]) -> list[dict[str, Any]]:
    """The query clauses of the filters, for a `bool.filter` or a kNN `filter`."""
    return [f.to_query() for f in filters]
