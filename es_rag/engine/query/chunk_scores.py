"""Scores of documents by their semantic_text chunks (and sparse_vector values), read from the
stored `_inference_fields`: a document scores as its best chunk, as Elasticsearch's nested query
over the chunks with `score_mode: max`. Dense chunks score as kNN does (cosine `(1+cos)/2`,
dot_product `(1+dot)/2`, l2_norm `1/(1+d²)`); sparse ones as a `sparse_vector` query, the sum of
query weight × stored weight, stored weights rounded as Lucene's `FeatureField` keeps them.

The chunks of a document version (its `_seq_no`) never change, so they are read once per shard
and kept while the shard is open."""

from __future__ import annotations

import math
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
import tantivy

from ..index.fulltext import FIELD_NAMES, KEY
from ..index.mapping.semantic_text import chunks_of, field_inference

if TYPE_CHECKING:
    from ..index.shard import Shard
    from .base import QueryContext

Entry = tuple[str, Any]  # ("dense", matrix) | ("sparse", [weights per chunk]) | ("none", None)
_cache: weakref.WeakKeyDictionary[Shard, dict[tuple[str, int], Entry]] = \
    weakref.WeakKeyDictionary()
_lock = threading.Lock()
_MAX_HITS = 10000


def feature_value(weight: float) -> float:
    """A weight as Lucene's FeatureField stores it (9 significant bits, truncated)."""
    bits = int(np.float32(weight).view(np.uint32)) >> 15 << 15
    return float(np.uint32(bits).view(np.float32))


def candidate_keys(ctx: QueryContext, path: str, filters: list[tantivy.Query]) -> list[int]:
    """Keys of the searchable documents that have a value in `path`, within `filters` and the
    scope's alias/DLS filter."""
    clauses = [tantivy.Query.term_query(ctx.schema, FIELD_NAMES, path), *filters]
    if ctx.alias_filter is not None:
        clauses.append(ctx.alias_filter)
    query = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in clauses])
    count = ctx.shard.fulltext.count(query)
    if not count:
        return []
    searcher = ctx.shard.fulltext.searcher
    hits = searcher.search(query, count, count=False).hits
    return list(searcher.fast_field_values(KEY, [addr for _, addr in hits]))


def _entry(source: dict[str, Any], path: str, sparse_field: bool) -> Entry:
    if sparse_field:
        value = _at_path(source, path)
        return ("sparse", [{k: feature_value(float(v)) for k, v in value.items()}]) \
            if isinstance(value, dict) else ("none", None)
    chunks = [c.get("embeddings") for c in chunks_of(source, path)]
    if not chunks:
        return ("none", None)
    if all(isinstance(c, dict) for c in chunks):
        return ("sparse", [{k: feature_value(float(v)) for k, v in c.items()} for c in chunks])
    if all(isinstance(c, list) for c in chunks):
        similarity = (field_inference(source, path) or {}).get("model_settings", {}) \
            .get("similarity", "cosine")
        return ("dense", (str(similarity).lower(), np.asarray(chunks, dtype=np.float32)))
    return ("none", None)


def _at_path(source: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of `_source` (objects or dotted keys, as the mapper reads
    them)."""
    if path in source:
        return source[path]
    head, _, rest = path.partition(".")
    while rest:
        node = source.get(head)
        if isinstance(node, dict):
            found = _at_path(node, rest)
            if found is not None:
                return found
        part, _, rest = rest.partition(".")
        head = f"{head}.{part}"
    return None


def load(ctx: QueryContext, path: str, keys: list[int], sparse_field: bool = False
         ) -> dict[int, Entry]:
    """The chunk entry of each document key (read from the store once per version)."""
    shard = ctx.shard
    with _lock:
        cached = _cache.setdefault(shard, {})
        found = {k: cached[(path, k)] for k in keys if (path, k) in cached}
    missing = [k for k in keys if k not in found]
    if missing:
        docs = shard.store.by_seq_nos(missing)
        fresh = {k: _entry(docs[k].source_json(), path, sparse_field) if k in docs
                 else ("none", None) for k in missing}
        with _lock:
            cached.update({(path, k): e for k, e in fresh.items()})
        found.update(fresh)
    return found


def _row_scores(similarity: str, matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The kNN score of each row (chunk) of `matrix` against `query`."""
    if similarity == "l2_norm":
        distances = (matrix * matrix).sum(axis=1) - 2.0 * (matrix @ query) + float(query @ query)
        return 1.0 / (1.0 + np.maximum(distances, 0.0))
    dots = matrix @ query
    if similarity == "cosine":
        norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(query))
        cosines = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        return (1.0 + cosines) / 2.0
    if similarity == "max_inner_product":
        return np.where(dots < 0, 1.0 / (1.0 - np.minimum(dots, 0.0)), dots + 1.0)
    return (1.0 + dots) / 2.0


def _sparse_score(weights: dict[str, float], query: dict[str, float]) -> float:
    total = 0.0
    for token, q in query.items():
        stored = weights.get(token)
        if stored is not None:
            total += float(np.float32(q) * np.float32(stored))
    return float(np.float32(total))


def dims_of(entries: dict[int, Entry]) -> int | None:
    """The dimensions of the dense chunks found (None when there are none)."""
    for kind, value in entries.values():
        if kind == "dense":
            return int(value[1].shape[1])
    return None


def score(entries: dict[int, Entry], query: Any) -> list[tuple[int, float]]:
    """(key, best chunk score) of every document whose chunks match the query's kind, best
    first; a dense query of other dimensions than the chunks matches nothing."""
    out: list[tuple[int, float]] = []
    if isinstance(query, list):
        dense = np.asarray(query, dtype=np.float32)
        groups: dict[str, list[tuple[int, np.ndarray]]] = {}
        for key, (kind, value) in entries.items():
            if kind == "dense" and value[1].shape[1] == dense.shape[0]:
                groups.setdefault(value[0], []).append((key, value[1]))
        for similarity, docs in groups.items():  # one matrix product per similarity
            starts = np.cumsum([0] + [m.shape[0] for _, m in docs[:-1]])
            rows = _row_scores(similarity, np.concatenate([m for _, m in docs]), dense)
            best = np.maximum.reduceat(rows, starts).astype(np.float32)
            out += [(key, float(b)) for (key, _), b in zip(docs, best, strict=True)]
    elif isinstance(query, dict):
        for key, (kind, value) in entries.items():
            if kind == "sparse":
                top = max(_sparse_score(w, query) for w in value)
                if top > 0 and not math.isnan(top):
                    out.append((key, top))
    out.sort(key=lambda item: (-item[1], item[0]))
    return out[:_MAX_HITS]


def per_chunk(entries: dict[int, Entry], query: Any) -> list[tuple[float, int, int]]:
    """(score, key, chunk ordinal) of every chunk whose kind matches the query (a sparse chunk
    sharing no token with the query does not match), best first."""
    out: list[tuple[float, int, int]] = []
    dense = np.asarray(query, dtype=np.float32) if isinstance(query, list) else None
    for key, (kind, value) in entries.items():
        if kind == "dense" and dense is not None and value[1].shape[1] == dense.shape[0]:
            rows = _row_scores(value[0], value[1], dense).astype(np.float32)
            out += [(float(s), key, i) for i, s in enumerate(rows)]
        elif kind == "sparse" and isinstance(query, dict):
            for i, weights in enumerate(value):
                s = _sparse_score(weights, query)
                if s > 0 and not math.isnan(s):
                    out.append((s, key, i))
    out.sort(key=lambda item: (-item[0], item[1], item[2]))
    return out


def as_query(ctx: QueryContext, hits: list[tuple[int, float]], boost: float) -> tantivy.Query:
    """Constant-score matches of the scored keys (scores combine with other clauses)."""
    if not hits:
        return tantivy.Query.empty_query()
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Should, tantivy.Query.const_score_query(
            tantivy.Query.term_query(ctx.schema, KEY, key), float(np.float32(s * boost))))
        for key, s in hits])


def chunk_scores(embeddings: list[Any], similarity: str, query: Any) -> list[float]:
    """The score of each chunk against a query embedding (0 where kinds differ)."""
    out = []
    dense = np.asarray(query, dtype=np.float32) if isinstance(query, list) else None
    for emb in embeddings:
        if isinstance(emb, dict) and isinstance(query, dict):
            out.append(_sparse_score({k: feature_value(float(v)) for k, v in emb.items()},
                                     query))
        elif isinstance(emb, list) and dense is not None and len(emb) == dense.shape[0]:
            row = _row_scores(similarity, np.asarray([emb], dtype=np.float32), dense)
            out.append(float(np.float32(row[0])))
        else:
            out.append(0.0)
    return out
