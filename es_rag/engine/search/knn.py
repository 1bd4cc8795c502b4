"""Vector search on one index for a knn spec, with filters (pre-filtering, as Elasticsearch)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import BadRequest
from ..index.mapping import FieldSpec
from ..index.mapping.nested import level_of
from ..index.mapping.semantic_text import search_inference_id
from ..index.vectors import distance_limit
from ..inference.context import current
from ..query.base import QueryContext, QueryNode, query_shard_error
from ..query.knn import KnnSpec
from ..query.nested import nested_level
from .nested_knn import allowed_objects, nested_filters, nested_knn
from .scope import filter_keys
from .shard_order import shard_of


def knn_search(ctx: QueryContext, spec: KnnSpec, *, extra_filters: list[QueryNode] = (),
               k: int | None = None) -> list[tuple[int, float]]:
    """Top (key, score) pairs, scores as Elasticsearch reports them (before `boost`)."""
    ctx.require_mapped(spec.field)
    field_spec = ctx.spec(spec.field)
    if field_spec is None:
        return []
    if field_spec.type == "semantic_text":
        return _semantic_knn(ctx, spec, field_spec, extra_filters, k)
    if field_spec.type != "dense_vector":
        raise query_shard_error(f"[knn] queries are only supported on [dense_vector] fields, "
                                f"found [{spec.field}] of type [{field_spec.type}]",
                                ctx.index_name)
    nested_path = level_of(ctx.mapping.nested_paths, spec.field)
    over_roots = nested_path is not None and getattr(ctx.shard, "path", None) != nested_path
    if over_roots:
        level = nested_level(ctx, nested_path)
        field = None if level is None else level.vectors.get(spec.field)
    else:
        field = ctx.shard.vectors.get(spec.field)
    if field is None:
        return []
    if spec.vector is None:
        if spec.builder is not None and spec.builder[0] is None:
            raise BadRequest("[model_id] must not be null.")
        raise BadRequest("[query_vector_builder] was not resolved to a query vector")
    if len(spec.vector) != field.dims and spec.from_hex and \
            field_spec.params.get("element_type") == "byte":
        raise query_shard_error(f"the query vector has a different dimension "
                                f"[{len(spec.vector)}] than the index vectors [{field.dims}]",
                                ctx.index_name)
    if len(spec.vector) != field.dims:
        raise query_shard_error(f"The query vector has a different number of dimensions "
                                f"[{len(spec.vector)}] than the document vectors [{field.dims}].",
                                ctx.index_name)
    k = spec.k if k is None else k
    keep = _threshold(field.similarity, spec.similarity)
    if nested_path is not None:
        objects, roots = nested_filters(ctx, spec, nested_path, extra_filters, over_roots)
        if over_roots:
            return nested_knn(ctx, spec, nested_path, roots, k, keep, objects)
        allowed = allowed_objects(field, objects, roots)
    else:
        filters = [f.compile(ctx) for f in [*spec.filters, *extra_filters]]
        if ctx.alias_filter is not None:
            filters.append(ctx.alias_filter)
        allowed = filter_keys(ctx, filters) if filters else None
    query = np.asarray(spec.vector, dtype=np.float32)
    hits = field.search(query, k, max(spec.num_candidates, k), allowed)
    return [(key, score) for key, score in hits if keep(score)]


def per_shard_knn(ctx: QueryContext, spec: KnnSpec, extra_filters: list[QueryNode], k: int
                  ) -> list[tuple[int, float]]:
    """The knn query's matches on an index created with several shards: the top `k` of each
    shard, as Elasticsearch runs the query on every shard (so `num_candidates` bounds the
    candidates per shard, and the matches of an index with n shards number up to n × k).
    Documents are placed on the shard `_id` routing gives them (`shard_order.shard_of`); the
    search widens until every shard has its k or the index is exhausted."""
    shards = int(ctx.settings.get("index.number_of_shards", 1))
    want = k * shards
    while True:
        hits = knn_search(ctx, spec, extra_filters=extra_filters, k=want)
        docs = ctx.shard.store.by_seq_nos([key for key, _ in hits])
        per_shard: dict[int, list[tuple[int, float]]] = {}
        for key, score in hits:
            doc = docs.get(key)
            per_shard.setdefault(shard_of(doc.id, shards) if doc else 0, []).append((key, score))
        if len(hits) < want or all(len(per_shard.get(s, ())) >= k for s in range(shards)):
            return sorted((hit for group in per_shard.values() for hit in group[:k]),
                          key=lambda hit: -hit[1])
        want *= 2


def _threshold(similarity: str, threshold: float | None) -> Callable[[float], bool]:
    """Whether a score passes the knn `similarity` threshold (always, without one)."""
    if threshold is None:
        return lambda score: True
    limit = distance_limit(similarity, float(threshold))
    return lambda score: _distance_ok(similarity, score, limit)


def _distance_ok(similarity: str, score: float, limit: float) -> bool:
    if similarity in ("cosine", "dot_product"):
        return 1.0 - (2.0 * score - 1.0) <= limit + 1e-6
    if similarity == "l2_norm":
        return (1.0 / score - 1.0) <= limit + 1e-6
    dot = score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score
    return 1.0 - dot <= limit + 1e-6


def _semantic_knn(ctx: QueryContext, spec: KnnSpec, field_spec: FieldSpec,
                  extra_filters: list[QueryNode], k: int | None) -> list[tuple[int, float]]:
    """kNN on a semantic_text field: its chunks, a document scoring as its best chunk; the
    query vector given, or the builder's text embedded by its `model_id` endpoint or by the
    field's search inference endpoint."""
    from ..query.chunk_scores import candidate_keys, dims_of, load, score

    filters = [f.compile(ctx) for f in [*spec.filters, *extra_filters]]
    vector = spec.vector
    if vector is None and spec.builder is not None:
        inference_id = spec.builder[0] or search_inference_id(field_spec.params)
        _, vector = current().embed(inference_id, spec.builder[1])
    if vector is None:
        raise BadRequest("[query_vector_builder] was not resolved to a query vector")
    entries = load(ctx, spec.field, candidate_keys(ctx, spec.field, filters))
    dims = dims_of(entries)
    if isinstance(vector, list) and dims is not None and dims != len(vector):
        raise query_shard_error(f"The query vector has a different number of dimensions "
                                f"[{len(vector)}] than the document vectors [{dims}].",
                                ctx.index_name)
    hits = score(entries, vector)[:max(spec.num_candidates, k or spec.k)]
    if spec.similarity is not None:
        hits = [(key, s) for key, s in hits if s >= float(spec.similarity)]
    return hits[:k or spec.k]
