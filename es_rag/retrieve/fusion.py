"""Client-side fusion of ranked lists, as Elasticsearch's `rrf` and `linear` retrievers fuse.

RRF: score(d) = sum over lists containing d of weight / (rank_constant + rank(d)), ranks from 1.
Linear: score(d) = sum over lists of weight * normalized score of d (0 where d is absent), with
the `minmax`, `l2_norm` or `none` normalizer of Elasticsearch's ScoreNormalizer classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPSILON = 1e-6  # Elasticsearch's normalizers treat a smaller range or norm as zero


def rrf_fuse(rankings: Sequence[Sequence[str]], *, rank_constant: int = 60,
             rank_window_size: int | None = None,
             weights: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked id lists into one list of (id, score), best first.

    Only the first `rank_window_size` ids of each list count (all when None); `weights` (one
    per list, default 1.0) scale each list's share. Ties are broken by the best single rank,
    then by id, so the order is deterministic.

    >>> rrf_fuse([["a", "b"], ["b", "c"]], rank_constant=60)[0][0]
    'b'
    """
    if rank_constant < 1:
        raise ValueError(f"rank_constant must be at least 1, got {rank_constant}")
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        window = ranking if rank_window_size is None else ranking[:rank_window_size]
        for rank, doc_id in enumerate(window, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (rank_constant + rank)
            best_rank[doc_id] = min(best_rank.get(doc_id, rank), rank)
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], item[0]))


def normalize(normalizer: str, scores: Sequence[float]) -> list[float]:
    """One result list's scores under `normalizer`: `minmax` maps to (s - min) / (max - min)
    (all 1.0 when max and min are within 1e-6), `l2_norm` divides by the L2 norm (unchanged
    when it is below 1e-6), `none` keeps them.

    >>> normalize("minmax", [4.0, 2.0, 1.0])
    [1.0, 0.3333333333333333, 0.0]
    """
    if not scores or normalizer == "none":
        return list(scores)
    if normalizer == "minmax":
        low, high = min(scores), max(scores)
        if high - low < _EPSILON:
            return [1.0] * len(scores)
        return [(s - low) / (high - low) for s in scores]
    if normalizer != "l2_norm":
        raise ValueError(f"unknown normalizer {normalizer!r} (accepted: none, minmax, l2_norm)")
    norm = math.sqrt(sum(s * s for s in scores))
    return list(scores) if norm < _EPSILON else [s / norm for s in scores]


def linear_fuse(results: Sequence[Sequence[tuple[str, float]]], *, weights: Sequence[float],
                normalizer: str = "minmax",
                rank_window_size: int | None = None) -> list[tuple[str, float]]:
    """Fuse scored (id, score) lists by a weighted sum of normalized scores, best first.

    Each list's first `rank_window_size` entries (all when None) are normalized on their own.
    Ties are broken by id.

    >>> linear_fuse([[("a", 4.0), ("b", 2.0)], [("b", 0.9), ("c", 0.5)]], weights=[1, 2])[0]
    ('b', 2.0)
    """
    scores: dict[str, float] = {}
    for scored, weight in zip(results, weights, strict=True):
        window = scored if rank_window_size is None else scored[:rank_window_size]
        normalized = normalize(normalizer, [score for _, score in window])
        for (doc_id, _), score in zip(window, normalized, strict=True):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight * score
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
