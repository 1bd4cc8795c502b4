"""kNN over a dense_vector inside a nested field: the top k root documents, each scored by its
best object (Lucene's diversifying child kNN query); `filter` applies to the root documents.
With `inner_hits`, each returned root's objects are scored exactly for the passages listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..index.mapping.nested import root_key
from ..query.nested import Matches, level_context, nested_level
from .scope import filter_keys

if TYPE_CHECKING:
    from ..index.vectors import VectorField
    from ..query.base import QueryContext, QueryNode
    from ..query.knn import KnnSpec


def nested_filters(ctx: QueryContext, spec: KnnSpec, path: str, extra: list[QueryNode],
                   over_roots: bool) -> tuple[set[int] | None, set[int] | None]:
    """(object keys, root keys) a knn's filters admit (None: no restriction) for a vector of
    nested field `path`. Each filter is over the objects' fields or over the root documents'
    (Elasticsearch's rule for nested kNN filters), told apart by the fields it names; `ctx` is
    the root documents' context (`over_roots`) or the nested level's (a knn query inside a
    `nested` query, whose `extra` pre-filters are the level's)."""
    level = nested_level(ctx, path) if over_roots else ctx.shard
    root_ctx = ctx if over_roots else ctx.parent
    object_ctx = level_context(ctx, level) if over_roots else ctx  # type: ignore[arg-type]
    on_objects, on_roots = [], []
    for body, node in zip(spec.filter_bodies, spec.filters, strict=True):
        (on_objects if _names_field_under(body, path + ".") else on_roots).append(node)
    (on_roots if over_roots else on_objects).extend(extra)
    roots = [f.compile(root_ctx) for f in on_roots] if root_ctx is not None else []
    if root_ctx is not None and root_ctx.alias_filter is not None:
        roots.append(root_ctx.alias_filter)
    objects = [f.compile(object_ctx) for f in on_objects]
    return (filter_keys(object_ctx, objects) if objects else None,
            filter_keys(root_ctx, roots) if roots and root_ctx is not None else None)


def _names_field_under(body: Any, prefix: str) -> bool:
    """Whether a query body names a field under `prefix` (as a key or a `field` value); a
    `nested` clause joins the objects to their root documents, so it filters the roots."""
    if isinstance(body, dict):
        return any(str(key).startswith(prefix) or
                   (key in ("field", "fields", "default_field") and
                    _names_value_under(value, prefix)) or _names_field_under(value, prefix)
                   for key, value in body.items() if key != "nested")
    if isinstance(body, list):
        return any(_names_field_under(item, prefix) for item in body)
    return False


def _names_value_under(value: Any, prefix: str) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and v.startswith(prefix) for v in values)


def allowed_objects(field: VectorField, objects: set[int] | None, roots: set[int] | None
                    ) -> set[int] | None:
    """Object keys passing both the object filters and the root filters (None: all)."""
    if roots is None:
        return objects
    candidates = field.live_keys() if objects is None else objects
    return {key for key in candidates if root_key(key) in roots}


def nested_knn(ctx: QueryContext, spec: KnnSpec, path: str, allowed_roots: set[int] | None,
               k: int, keep: Callable[[float], bool], allowed_objects_: set[int] | None = None
               ) -> list[tuple[int, float]]:
    """Top (root key, best object score) pairs of a knn on a vector of nested field `path`."""
    level = nested_level(ctx, path)
    field = None if level is None else level.vectors.get(spec.field)
    if field is None or level is None or spec.vector is None:
        return []
    query = np.asarray(spec.vector, dtype=np.float32)
    allowed = allowed_objects(field, allowed_objects_, allowed_roots)
    # as Lucene's diversifying search gathers num_candidates documents, not objects: the
    # search starts with as many objects as that many documents hold on average
    per_root = max(1, round(len(field.live) / max(1, len(level.children))))
    best = _diversified(field, query, k, max(spec.num_candidates, k) * per_root, allowed, keep)
    top = sorted(best.items(), key=lambda p: (-p[1], p[0]))[:k]
    if spec.inner_hits is not None:
        spec.inner_hits.path = path
        spec.inner_hits.name = spec.inner_hits.name or path
        spec.inner_hits.matches[id(ctx)] = _objects(field, query, [r for r, _ in top],
                                                    level.children, allowed, keep)
    return top


def _diversified(field: VectorField, query: np.ndarray, k: int, num_candidates: int,
                 allowed: set[int] | None, keep: Callable[[float], bool]) -> dict[int, float]:
    """Best score per root over the nearest objects, widening the search until k roots are
    found or every object was seen."""
    want = num_candidates
    while True:
        hits = field.search(query, want, max(num_candidates, want), allowed)
        best: dict[int, float] = {}
        for key, score in hits:
            root = root_key(key)
            if keep(score) and score > best.get(root, -1.0):
                best[root] = score
        if len(best) >= k or len(hits) < want:
            return best
        want *= 4


def _objects(field: VectorField, query: np.ndarray, roots: list[int],
             children: dict[int, list[int]], allowed: set[int] | None,
             keep: Callable[[float], bool]) -> Matches:
    """Every object (with a vector) of each root, scored exactly, best first."""
    out: Matches = {}
    for root in roots:
        keys = sorted(set(children.get(root, ())))
        if allowed is not None:
            keys = [key for key in keys if key in allowed]
        scored = [(score, key) for key, score in field.exact(query, keys) if keep(score)]
        out[root] = sorted(scored, key=lambda pair: (-pair[0], pair[1]))
    return out
