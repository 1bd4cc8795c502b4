"""Reciprocal rank fusion of ranked lists, as Elasticsearch's RRF computes it.

score(d) = sum over lists containing d of 1 / (rank_constant + rank(d)), ranks starting at 1.
"""

from __future__ import annotations

from collections.abc import Sequence


def rrf_fuse(rankings: Sequence[Sequence[str]], *, rank_constant: int = 60,
             rank_window_size: int | None = None) -> list[tuple[str, float]]:
    """Fuse ranked id lists into one list of (id, score), best first.

    Only the first `rank_window_size` ids of each list count (all when None). Ties are broken
    by the best single rank, then by id, so the order is deterministic.

    >>> rrf_fuse([["a", "b"], ["b", "c"]], rank_constant=60)[0][0]
    'b'
    """
    if rank_constant < 1:
        raise ValueError(f"rank_constant must be at least 1, got {rank_constant}")
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ranking in rankings:
        window = ranking if rank_window_size is None else ranking[:rank_window_size]
        for rank, doc_id in enumerate(window, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (rank_constant + rank)
            best_rank[doc_id] = min(best_rank.get(doc_id, rank), rank)
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], item[0]))
