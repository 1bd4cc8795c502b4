"""Sorting root documents by a field of their nested objects (`sort: [{"passages.page":
{"order": "asc", "mode": "min", "nested": {"path": "passages", "filter": {...}}}}]`): each
document's value is its objects' values (those matching `nested.filter`) combined by `mode`
(min for ascending, max for descending by default), as Elasticsearch's nested sort."""

from __future__ import annotations

import statistics
from typing import Any

import tantivy

from ..errors import BadRequest
from ..index.fulltext import KEY
from ..index.mapping.nested import level_of, ordinal, root_key
from ..query import parse_query
from ..query.base import QueryContext, query_shard_error
from ..query.nested import level_context, nested_level
from ..source_filter import source_values
from .inner_hits import object_source, wrap_object

SortKey = Any  # search.request.SortKey (not imported: request → collapse → sorting → here)


def nested_path_of(ctx: QueryContext, key: SortKey) -> str | None:
    """The nested field a sort field lies in (None: a field of the root documents); a nested
    field sorted without its `nested` context is refused as Elasticsearch refuses it."""
    path = level_of(ctx.mapping.nested_paths, key.field)
    if path is None:
        if key.nested is not None and ctx.mapping.fields.get(str(key.nested["path"])) is None:
            raise query_shard_error(f"[nested] failed to find nested object under path "
                                    f"[{key.nested['path']}]", ctx.index_name)
        return None
    if key.nested is None:
        raise query_shard_error(f"it is mandatory to set the [nested] context on the nested "
                                f"sort field: [{key.field}].", ctx.index_name)
    if key.nested["path"] != path:
        raise BadRequest(f"sorting on [{key.field}] inside nested field [{path}] needs "
                         f"[nested.path: {path}]")
    return path


def nested_sort_values(ctx: QueryContext, key: SortKey, path: str, roots: list[int]
                       ) -> dict[int, Any]:
    """The sort value of each root document (absent: no object with a value)."""
    level = nested_level(ctx, path)
    if level is None:
        return {}
    child = level_context(ctx, level)
    flt = key.nested.get("filter") if key.nested else None
    query = parse_query(flt).compile(child) if flt is not None else tantivy.Query.all_query()
    fulltext = child.shard.fulltext
    count = fulltext.count(query)
    if not count:
        return {}
    addresses = [a for _, a in fulltext.searcher.search(query, count, count=False).hits]
    keys = fulltext.searcher.fast_field_values(KEY, addresses)
    wanted = set(roots)
    values: dict[int, list[Any]] = {}
    kind = child.kind(key.field)
    if kind in ("int", "float", "bool"):
        for obj_key, value in zip(keys, fulltext.searcher.fast_field_values(key.field,
                                                                            addresses),
                                  strict=True):
            if root_key(obj_key) in wanted and value is not None:
                values.setdefault(root_key(obj_key), []).append(value)
    else:
        by_root: dict[int, list[int]] = {}
        for obj_key in keys:
            if root_key(obj_key) in wanted:
                by_root.setdefault(root_key(obj_key), []).append(ordinal(obj_key))
        docs = ctx.shard.store.by_seq_nos(list(by_root))
        for root, offsets in by_root.items():
            doc = docs.get(root)
            source = ctx.source_of(doc) if doc else {}
            for offset in offsets:
                obj = object_source(source, path, offset) or {}
                values.setdefault(root, []).extend(
                    source_values(wrap_object(path, obj), key.field))
    mode = key.mode or ("min" if key.order == "asc" else "max")
    return {root: _combine(mode, found) for root, found in values.items() if found}


def _combine(mode: str, values: list[Any]) -> Any:
    if mode == "min":
        return min(values)
    if mode == "max":
        return max(values)
    if mode == "sum":
        return sum(values)
    if mode == "avg":
        return sum(values) / len(values)
    return statistics.median(values)
