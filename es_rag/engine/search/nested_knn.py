"""kNN over a dense_vector inside a nested field: the top k root documents, each scored by its
best object (Lucene's diversifying child kNN query); `filter` applies to the root documents.
With `inner_hits`, each returned root's objects are scored exactly for the passages listed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..index.mapping.nested import root_key
from ..query.nested import Matches, nested_level

if TYPE_CHECKING:
    from ..index.vectors import VectorField
    from ..query.base import QueryContext
    from ..query.knn import KnnSpec


def nested_knn(ctx: QueryContext, spec: KnnSpec, path: str, allowed_roots: set[int] | None,
               k: int, keep: Callable[[float], bool]) -> list[tuple[int, float]]:
    """Top (root key, best object score) pairs of a knn on a vector of nested field `path`."""
    level = nested_level(ctx, path)
    field = None if level is None else level.vectors.get(spec.field)
    if field is None or level is None or spec.vector is None:
        return []
    query = np.asarray(spec.vector, dtype=np.float32)
    allowed = None if allowed_roots is None else \
        {key for key in field.live_keys() if root_key(key) in allowed_roots}
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
