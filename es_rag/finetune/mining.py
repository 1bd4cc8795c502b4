"""Hard negatives from the current retrieval: what BM25 and kNN rank high for a training query
but is not judged relevant to it. The same candidate pools serve the held-out metrics; the
serving hybrid search's ranking (`first_stage`) is what a reranker's blend is chosen on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from itertools import zip_longest

from elasticsearch import Elasticsearch

from es_rag.connect import Capabilities
from es_rag.embedding.protocols import QueryEmbedder
from es_rag.evaluate.run import documents_of
from es_rag.finetune.data import TrainingQuery
from es_rag.retrieve import Mode, SearchParams, search
from es_rag.retrieve.defaults import read_stored

DEPTH = 30  # candidates per leg: hard negatives are drawn from these
RERANK_DEPTH = 50  # first-stage hits a reranker re-orders
SKIP = 2  # the best non-relevant candidates are often relevant but unjudged: skip them

Progress = Callable[[str, int, int | None], None]


def candidate_pools(client: Elasticsearch, caps: Capabilities, index: str,
                    embedder: QueryEmbedder, queries: Sequence[TrainingQuery], *,
                    depth: int = DEPTH, progress: Progress | None = None) -> dict[str, list[str]]:
    """For each query, the documents BM25 and kNN return (top `depth` of each, interleaved
    best first, each document once)."""
    bm25 = SearchParams(mode="bm25", size=depth)
    knn = SearchParams(mode="knn", size=depth, k=depth, num_candidates=max(100, depth))
    pools: dict[str, list[str]] = {}
    for n, query in enumerate(queries, start=1):
        lexical = documents_of(search(client, caps, index, query.text, bm25).hits)
        semantic = documents_of(search(client, caps, index, query.text, knn, embedder).hits)
        pool = [doc for pair in zip_longest(lexical, semantic) for doc, _ in
                (p for p in pair if p is not None)]
        pools[query.qid] = list(dict.fromkeys(pool))
        if progress:
            progress("mine negatives", n, len(queries))
    return pools


def first_stage(client: Elasticsearch, caps: Capabilities, index: str,
                embedder: QueryEmbedder, queries: Sequence[TrainingQuery], *,
                params: SearchParams | None = None, depth: int = RERANK_DEPTH,
                progress: Progress | None = None) -> dict[str, list[tuple[str, float]]]:
    """For each query, the documents (with their fused scores, best first) of the hybrid
    search `params` (default: the stored retrieval parameters' hybrid) — what `hybrid+rerank`
    hands the reranker."""
    if params is None:
        params = read_stored(client).search_params(mode=Mode.HYBRID.value, size=depth)
    ranked: dict[str, list[tuple[str, float]]] = {}
    for n, query in enumerate(queries, start=1):
        ranked[query.qid] = documents_of(search(client, caps, index, query.text, params,
                                                embedder).hits)
        if progress:
            progress("first stage", n, len(queries))
    return ranked


def hard_negatives(query: TrainingQuery, pool: Sequence[str], count: int, rng: random.Random,
                   *, skip: int = SKIP) -> list[str]:
    """`count` documents of `pool` that are not relevant to `query`, drawn from its ranks after
    the first `skip` non-relevant ones (fewer when the pool is short)."""
    others = [doc for doc in pool if doc not in query.positives]
    window = others[skip:] or others
    return rng.sample(window, min(count, len(window)))
