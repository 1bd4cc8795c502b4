"""Sorting hits by fields (numbers, dates, keywords, `_score`, `_doc`) and `search_after`."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from ..dates import (
    NANOS_PER_MILLI,
    parse_date,
    parse_date_nanos,
    render_date,
    render_date_nanos,
)
from ..errors import BadRequest
from ..index.fulltext import KEY
from ..index.mapping.ip import IpSortValue
from ..source_filter import source_values
from .nested_sort import nested_path_of, nested_sort_values
from .scope import positions_by_scope

if TYPE_CHECKING:
    from .context import SearchContext
    from .request import SortKey
    from .scope import Hit


def _values(context: SearchContext, hits: list[Hit], key: SortKey,
            date_format: DateFormat | None = None) -> list[Any]:
    if key.field == "_score":
        return [h[0] for h in hits]
    if key.field == "_doc":
        return [h[2] for h in hits]
    if key.field == "_shard_doc":  # Elasticsearch's (shard request index << 32) | doc
        return [(h[1] << 32) | h[2] for h in hits]
    out: list[Any] = [None] * len(hits)
    for num, positions in positions_by_scope(hits).items():
        scope = context.scopes[num]
        spec = scope.ctx.spec(key.field)
        if spec is None:
            # a field hidden by field-level security is mapped: every document misses it
            hidden = scope.ctx.fields is not None and key.field in scope.target.index.mapping.fields
            if key.unmapped_type is None and key.field != "_id" and not hidden:
                raise BadRequest(f"No mapping found for [{key.field}] in order to sort on",
                                 error_type="query_shard_exception", index=scope.name)
            if key.field == "_id":
                docs = scope.ctx.shard.store.by_seq_nos([hits[p][2] for p in positions])
                for p in positions:
                    doc = docs.get(hits[p][2])
                    out[p] = doc.id if doc else None
            continue
        path = nested_path_of(scope.ctx, key)
        if path is not None:
            found = nested_sort_values(scope.ctx, key, path, [hits[p][2] for p in positions])
            for p in positions:
                out[p] = found.get(hits[p][2])
            continue
        if spec.type == "text":
            raise BadRequest(f"Text fields are not optimised for operations that require "
                             f"per-document field data like aggregations and sorting, so these "
                             f"operations are disabled by default. Please use a keyword field "
                             f"instead. Alternatively, set fielddata=true on [{key.field}] in "
                             f"order to load field data by uninverting the inverted index.")
        kind = scope.ctx.kind(key.field)
        if kind in ("int", "float", "bool"):
            searcher = scope.ctx.shard.fulltext.searcher
            result = searcher.search(_key_set(scope, [hits[p][2] for p in positions]),
                                     len(positions), count=False)
            keys = searcher.fast_field_values(KEY, [a for _, a in result.hits])
            vals = searcher.fast_field_values(key.field, [a for _, a in result.hits])
            by_key = dict(zip(keys, vals, strict=True))
            scale = _date_scale(spec.type, date_format)
            for p in positions:
                value = by_key.get(hits[p][2])
                out[p] = int(value) if kind == "bool" and value is not None else \
                    scale(value) if value is not None else None
        else:
            docs = scope.ctx.shard.store.by_seq_nos([hits[p][2] for p in positions])
            for p in positions:
                doc = docs.get(hits[p][2])
                values = source_values(scope.ctx.source_of(doc), scope.ctx.mapping.source_path(
                    key.field)) if doc else []
                if spec.type == "ip":
                    values = [IpSortValue(v) for v in values]
                values = sorted(values)
                out[p] = (values[0] if key.order == "asc" else values[-1]) if values else None
    return out


def _key_set(scope: Any, keys: list[int]) -> Any:
    import tantivy

    return tantivy.Query.term_set_query(scope.ctx.schema, KEY, keys)


def sort_hits(context: SearchContext, hits: list[Hit], keys: list[SortKey],
              search_after: list[Any] | None) -> tuple[list[Hit], list[list[Any]]]:
    """Hits in sort order (after `search_after` when given) with their sort values."""
    date_formats = [_date_format(context, k) for k in keys]
    columns = [_values(context, hits, k, f) for k, f in zip(keys, date_formats, strict=True)]
    context.learn_shards(hits)
    rows = [[col[i] for col in columns] for i in range(len(hits))]

    def missing_value(k: SortKey) -> Any:
        return k.missing if k.missing not in (None, "_last", "_first") else None

    def compare(a: int, b: int) -> int:
        for i, k in enumerate(keys):
            va, vb = rows[a][i], rows[b][i]
            if va is None:
                va = missing_value(k)
            if vb is None:
                vb = missing_value(k)
            if va == vb:
                continue
            if va is None or vb is None:
                first = k.missing == "_first"
                return (1 if va is None else -1) * (-1 if first else 1)
            result = -1 if va < vb else 1
            return result if k.order == "asc" else -result
        tie_a, tie_b = context.tie(*hits[a][1:]), context.tie(*hits[b][1:])
        return -1 if tie_a < tie_b else 1 if tie_a > tie_b else 0

    order = sorted(range(len(hits)), key=functools.cmp_to_key(compare))
    if search_after is not None:
        if len(search_after) != len(keys):
            raise BadRequest(f"search_after has {len(search_after)} value(s) but sort has "
                             f"{len(keys)}.")
        after = [_parse_after(v, fmt) if fmt and isinstance(v, str) and not _numeric(v)
                 else v for v, fmt in zip(search_after, date_formats, strict=True)]
        order = [i for i in order if _after(rows[i], after, keys)]
    return [hits[i] for i in order], [_render(rows[i], keys, date_formats) for i in order]


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _date_format(context: SearchContext, key: SortKey) -> DateFormat | None:
    """The format of a date sort field (the sort's own `format` first), else None; its values
    are nanoseconds when every index maps it `date_nanos` or `numeric_type` asks for them."""
    specs = [spec for spec in (scope.ctx.spec(key.field) for scope in context.scopes)
             if spec is not None and spec.type in ("date", "date_nanos")]
    if not specs:
        return None
    nanos = key.numeric_type == "date_nanos" or (
        key.numeric_type is None and all(spec.type == "date_nanos" for spec in specs))
    return DateFormat(key.format or specs[0].date_format, nanos)


def _date_scale(ftype: str, date_format: DateFormat | None) -> Any:
    """Converts an index's date values to the sort's unit (milliseconds or nanoseconds)."""
    if date_format is None or ftype not in ("date", "date_nanos") or \
            date_format.nanos == (ftype == "date_nanos"):
        return lambda value: value
    if date_format.nanos:
        return lambda value: int(value) * NANOS_PER_MILLI
    return lambda value: int(value) // NANOS_PER_MILLI


class DateFormat(str):
    """The format of a date sort field; `nanos` when its values are nanoseconds."""

    nanos: bool

    def __new__(cls, fmt: str, nanos: bool) -> DateFormat:
        obj = super().__new__(cls, fmt)
        obj.nanos = nanos
        return obj


def _parse_after(value: str, fmt: DateFormat) -> int:
    """A `search_after` date in the sort's format (a 400 parse_exception when it is not)."""
    try:
        return parse_date_nanos(value, fmt) if fmt.nanos else parse_date(value, fmt)
    except ValueError as err:
        raise BadRequest(f"{err}: [{err}]", error_type="parse_exception") from err


def _after(row: list[Any], after: list[Any], keys: list[SortKey]) -> bool:
    for value, ref, k in zip(row, after, keys, strict=True):
        if value is None and k.missing not in (None, "_last", "_first"):
            value = k.missing
        if value is None:
            # a missing value sorts last (or first): after any real value (or before)
            return k.missing != "_first" and k.field != "_score"
        if isinstance(value, int | float) and isinstance(ref, str):
            try:
                ref = float(ref)
            except ValueError:
                return False
        if value == ref:
            continue
        return value > ref if k.order == "asc" else value < ref
    return False


def _render(row: list[Any], keys: list[SortKey], date_formats: list[DateFormat | None]
            ) -> list[Any]:
    out = []
    for value, k, fmt in zip(row, keys, date_formats, strict=True):
        if k.format and fmt and isinstance(value, int):
            out.append(render_date_nanos(value, fmt) if fmt.nanos else render_date(value, fmt))
            continue
        if value is None:
            asc = k.order == "asc"
            last = k.missing in (None, "_last")
            big = 9223372036854775807
            value = (big if asc == last else -big - 1) if k.field != "_score" else None
        out.append(str(value) if isinstance(value, IpSortValue) else value)
    return out
