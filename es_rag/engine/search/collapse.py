"""Field collapsing: the best hit per value of a keyword or numeric field, and its inner hits.

As in Elasticsearch (`CollapseBuilder`, `ExpandSearchPhase`): the collapse field must be a
mapped keyword or numeric field with doc values and hold at most one value per document;
documents without a value share one `null` group; the total counts every match, not groups;
each collapsed hit carries the group value in `fields`; `inner_hits` run the request's query
again with the group value as a filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..dates import render_date
from ..errors import BadRequest, ParsingError
from ..index.mapping import FLOAT_TYPES, INTEGER_TYPES
from ..query.base import QueryNode
from ..source_filter import source_values
from .scope import positions_by_scope

if TYPE_CHECKING:
    from .scope import Hit, Scope

_COLLAPSE_KEYS = {"field", "inner_hits", "max_concurrent_group_searches"}
_INNER_HIT_KEYS = {"name", "from", "size", "sort", "_source", "fields", "docvalue_fields",
                   "version", "seq_no_primary_term", "highlight", "track_scores",
                   "stored_fields", "ignore_unmapped"}
_NUMERIC = INTEGER_TYPES | FLOAT_TYPES | {"date", "date_nanos", "boolean"}


@dataclass
class CollapseSpec:
    """A validated `collapse` section."""

    field: str
    inner_hits: list[dict[str, Any]] = field(default_factory=list)


def parse_collapse(body: Any) -> CollapseSpec:
    """Parse `collapse: {field, inner_hits, max_concurrent_group_searches}`."""
    if not isinstance(body, dict):
        raise ParsingError("[collapse] failed to parse, expected an object",
                           error_type="x_content_parse_exception")
    for key in body:
        if key not in _COLLAPSE_KEYS:
            raise ParsingError(f"[collapse] unknown field [{key}]",
                               error_type="x_content_parse_exception")
    name = body.get("field")
    if not isinstance(name, str) or not name:
        raise BadRequest("no collapse field specified" if name is None else
                         "field name is null or empty")
    mcgs = body.get("max_concurrent_group_searches")
    if mcgs is not None and (not isinstance(mcgs, int) or mcgs < 1):
        raise BadRequest("maxConcurrentGroupRequests` must be positive")
    inner = body.get("inner_hits", [])
    inner = [inner] if isinstance(inner, dict) else inner
    if not isinstance(inner, list) or not all(isinstance(i, dict) for i in inner):
        raise ParsingError("Invalid token in inner_hits array")
    for spec in inner:
        for key in spec:
            if key == "collapse":
                raise BadRequest("a second level of collapse in [inner_hits] is not supported "
                                 "by the embedded engine")
            if key not in _INNER_HIT_KEYS:
                raise ParsingError(f"[inner_hits] unknown field [{key}]",
                                   error_type="x_content_parse_exception")
        if spec.get("name") is None:
            raise BadRequest("inner_hits must have a [name]; set the [name] field in the "
                             "inner_hits definition")
    names = [spec["name"] for spec in inner]
    if len(set(names)) != len(names):
        raise BadRequest(f"[inner_hits] already contains an entry for key "
                         f"[{next(n for n in names if names.count(n) > 1)}]")
    return CollapseSpec(name, inner)


def check_collapse(scopes: list[Scope], spec: CollapseSpec) -> None:
    """Refuse a field Elasticsearch cannot collapse on, with its messages."""
    for scope in scopes:
        mapped = scope.ctx.spec(spec.field)
        if mapped is None:
            raise BadRequest(f"no mapping found for `{spec.field}` in order to collapse on")
        if mapped.type != "keyword" and mapped.type not in _NUMERIC:
            raise BadRequest(f"collapse is not supported for the field [{spec.field}] of the "
                             f"type [{mapped.type}]")
        if mapped.params.get("doc_values") is False or scope.ctx.kind(spec.field) is None:
            raise BadRequest(f"cannot collapse on field `{spec.field}` without `doc_values`")


def collapse_hits(scopes: list[Scope], hits: list[Hit], spec: CollapseSpec,
                  groups: int) -> tuple[list[int], list[Any]]:
    """Positions in `hits` (already in rank order) of the first hit of each group, up to
    `groups` groups, and the group value of each."""
    chosen: list[int] = []
    values: list[Any] = []
    seen: set[Any] = set()
    batch = max(64, 2 * groups)
    start = 0
    while start < len(hits) and len(chosen) < groups:
        part = hits[start:start + batch]
        for offset, value in enumerate(group_values(scopes, part, spec.field)):
            group = ("v", value) if value is not None else ("null",)
            if group in seen:
                continue
            seen.add(group)
            chosen.append(start + offset)
            values.append(value)
            if len(chosen) == groups:
                break
        start += batch
    return chosen, values


def group_values(scopes: list[Scope], hits: list[Hit], path: str) -> list[Any]:
    """The collapse value of each hit (None when missing); several values are refused."""
    out: list[Any] = [None] * len(hits)
    for num, positions in positions_by_scope(hits).items():
        scope = scopes[num]
        spec = scope.ctx.spec(path)
        docs = scope.ctx.shard.store.by_seq_nos([hits[p][2] for p in positions])
        for p in positions:
            doc = docs.get(hits[p][2])
            values = source_values(scope.ctx.source_of(doc), scope.ctx.mapping.source_path(path)) \
                if doc else []
            if len(values) > 1:
                raise BadRequest(f"failed to collapse {doc.id if doc else ''}, the collapse "
                                 f"field must be single valued",
                                 error_type="illegal_state_exception")
            out[p] = _typed(spec.type if spec else "keyword", values[0], spec) \
                if values else None
    return out


def _typed(ftype: str, text: str, spec: Any) -> Any:
    """A source value as Elasticsearch renders the collapse field in `fields`."""
    from ..dates import parse_date

    if ftype in INTEGER_TYPES:
        return int(float(text))
    if ftype in FLOAT_TYPES:
        return float(text)
    if ftype == "boolean":
        return text in ("True", "true")
    if ftype in ("date", "date_nanos"):
        return render_date(parse_date(text, spec.date_format), spec.date_format)
    return text


def group_filter(path: str, value: Any) -> QueryNode:
    """The query selecting one group (documents without the field for the null group)."""
    from ..query import parse_query

    if value is None:
        return parse_query({"bool": {"must_not": [{"exists": {"field": path}}]}})
    return parse_query({"term": {path: value}})

