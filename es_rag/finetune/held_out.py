"""Score a model on the held-back training queries: it re-ranks each query's candidate pool (what
BM25 and kNN returned, plus the relevant documents), and the ranking is measured against the
training judgments. Early stopping and the manifest's before/after metrics use this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from es_rag.evaluate.metrics import score_ranking
from es_rag.finetune.data import TrainingQuery

METRICS = ("ndcg@10", "recall@10", "mrr@10")
POOL = 20  # candidates re-ranked per held-out query (10 from each leg, interleaved)
STOP_METRIC = "ndcg@10"

PairScorer = Callable[[str, Sequence[str]], Sequence[float]]
"""(query, passages) → one score per passage, higher is more relevant."""


def pools_with_positives(queries: Sequence[TrainingQuery],
                         pools: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each query's pool with its relevant documents added (a pool may have missed them)."""
    return {q.qid: list(dict.fromkeys([*pools.get(q.qid, ())[:POOL], *q.positives]))
            for q in queries}


def rank_pools(queries: Sequence[TrainingQuery], pools: Mapping[str, Sequence[str]],
               passages: Mapping[str, str], scorer: PairScorer) -> dict[str, list[str]]:
    """Each query's pool, best first by `scorer`."""
    rankings: dict[str, list[str]] = {}
    for query in queries:
        docs = [d for d in pools[query.qid] if d in passages]
        scores = scorer(query.text, [passages[d] for d in docs])
        order = sorted(range(len(docs)), key=lambda i: -float(scores[i]))
        rankings[query.qid] = [docs[i] for i in order]
    return rankings


def held_out_metrics(queries: Sequence[TrainingQuery], pools: Mapping[str, Sequence[str]],
                     passages: Mapping[str, str], scorer: PairScorer) -> dict[str, float]:
    """nDCG@10, recall@10 and MRR@10 of `scorer` re-ranking the held-out queries' pools."""
    full = pools_with_positives(queries, pools)
    rankings = rank_pools(queries, full, passages, scorer)
    qrels = {q.qid: dict.fromkeys(q.positives, 1) for q in queries}
    means = score_ranking(qrels, rankings, METRICS).means
    return {m: round(float(v), 4) for m, v in means.items()}


def bi_encoder_scorer(model: object) -> PairScorer:
    """Cosine of a SentenceTransformer's query and passage vectors; each passage is embedded
    once per scorer (make a new one after the weights change)."""
    vectors: dict[str, Any] = {}

    def score(query: str, texts: Sequence[str]) -> Sequence[float]:
        if not texts:
            return []
        q = model.encode_query([query], normalize_embeddings=True,  # type: ignore[attr-defined]
                               convert_to_numpy=True, show_progress_bar=False)
        missing = list(dict.fromkeys(t for t in texts if t not in vectors))
        if missing:
            found = model.encode_document(missing,  # type: ignore[attr-defined]
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False, batch_size=32)
            vectors.update(zip(missing, found, strict=True))
        return (np.asarray([vectors[t] for t in texts]) @ np.asarray(q)[0]).tolist()
    return score
