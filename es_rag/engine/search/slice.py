"""Sliced scroll and point-in-time searches: `slice: {id, max, field}` as Elasticsearch splits.

As `SliceBuilder` does, with no more slices than shards a slice takes whole shards (shard index
modulo `max`); with more, each shard's slices split its documents by a hash of `_id` (or of the
`field` value). The engine keeps an index in one shard, so the shard of each document is
computed as Elasticsearch routes it (`shard_order`); the in-shard hash partitions documents
completely and disjointly, though not into the same sets as Lucene's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tantivy

from ..errors import ActionRequestValidation, BadRequest, ParsingError
from ..index.fulltext import KEY
from ..query import parse_query
from ..query.base import QueryNode
from ..source_filter import source_values
from .scope import Scope
from .shard_order import murmur3_32, routing_num_shards

_SEED = 7919  # TermsSliceQuery's seed
MAX_SLICES = 1024  # index.max_slices_per_scroll


@dataclass(frozen=True)
class SliceSpec:
    """One slice of a search: its id among `max`, split on `field` (`_id` by default)."""

    id: int
    max: int
    field: str | None = None


def parse_slice(spec: Any, scroll_or_pit: bool) -> SliceSpec:
    """The `slice` object of a search body, validated as Elasticsearch does."""
    if not scroll_or_pit:
        raise ActionRequestValidation("Validation Failed: 1: [slice] can only be used with "
                                      "[scroll] or [point-in-time] requests;")
    if not isinstance(spec, dict):
        raise ParsingError("[slice] failed to parse field")
    for key in spec:
        if key not in ("id", "max", "field"):
            raise ParsingError(f"[slice] unknown field [{key}]")
    try:
        slice_id, slices = int(spec.get("id", -1)), int(spec.get("max", -1))
    except (TypeError, ValueError) as err:
        raise ParsingError("[slice] failed to parse field") from err
    if slice_id < 0:
        raise BadRequest("id must be greater than or equal to 0")
    if slices <= 1:
        raise BadRequest("max must be greater than 1")
    if slice_id >= slices:
        raise BadRequest("max must be greater than id")
    return SliceSpec(slice_id, slices, spec.get("field"))


def slice_filter(scopes: list[Scope], spec: SliceSpec) -> QueryNode:
    """A filter keeping the documents of the slice, over every index of the search."""
    shards = [int(s.ctx.settings.get("index.number_of_shards", 1)) for s in scopes]
    total = sum(shards)
    kept: list[str] = []
    offset = 0
    for scope, count in zip(scopes, shards, strict=True):
        limit = int(scope.ctx.settings.get("index.max_slices_per_scroll", MAX_SLICES))
        if spec.max > limit:
            raise BadRequest(f"The number of slices [{spec.max}] is too large. It must be less "
                             f"than [{limit}]. This limit can be set by changing the "
                             f"[index.max_slices_per_scroll] index level setting.")
        routing = int(scope.ctx.settings.get("index.number_of_routing_shards",
                                             routing_num_shards(count) if count > 1 else 1))
        for doc in _documents(scope):
            shard = offset + _shard(doc.id, count, routing)
            if _in_slice(spec, shard, total, doc):
                kept.append(doc.id)
        offset += count
    return parse_query({"ids": {"values": kept}})


def _documents(scope: Scope) -> list[Any]:
    searcher = scope.ctx.shard.fulltext.searcher
    if not searcher.num_docs:
        return []
    hits = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False).hits
    keys = searcher.fast_field_values(KEY, [a for _, a in hits])
    docs = scope.ctx.shard.store.by_seq_nos(keys)
    return [docs[k] for k in sorted(keys) if k in docs]


def _shard(doc_id: str, shards: int, routing: int) -> int:
    if shards <= 1:
        return 0
    data = doc_id.encode("utf-16-le", errors="surrogatepass")
    return (murmur3_32(data) % routing) // (routing // shards)


def _in_slice(spec: SliceSpec, shard: int, shards: int, doc: Any) -> bool:
    if shards >= spec.max:
        return shard % spec.max == spec.id
    if spec.id % shards != shard:
        return False
    in_shard = spec.max // shards + (1 if spec.max % shards > shard else 0)
    if in_shard == 1:
        return True
    if spec.field in (None, "_id"):
        value = doc.id
    else:
        values = source_values(doc.source_json(), spec.field)
        value = values[0] if values else ""
    return murmur3_32(str(value).encode(), _SEED) % in_shard == spec.id // shards
