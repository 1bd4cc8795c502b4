"""Benchmark of passages stored as `nested` objects of one document against the same passages
as flat chunk documents, on the embedded engine: bulk rate, kNN latency (top-10 documents) and
the recall of nested kNN against the exact best passage per document. Synthetic unit vectors
around 50 centres (no model needed); the flat index answers top-10 chunks, for comparison.

Usage: python bench/nested_bench.py [--docs 2000] [--passages 5] [--dims 64] [--queries 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk
from measures import Latency

from es_rag.engine.server import EngineServer


def clustered(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors around 50 centres (uniform random vectors make any HNSW look broken)."""
    centres = rng.normal(size=(50, dims))
    data = centres[rng.integers(0, 50, n)] + 0.4 * rng.normal(size=(n, dims))
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


def index_both(es: Elasticsearch, vectors: np.ndarray, docs: int, passages: int,
               dims: int) -> dict[str, float]:
    """Index the passages nested and flat; documents per second of each bulk."""
    vector = {"type": "dense_vector", "dims": dims, "similarity": "cosine",
              "index_options": {"type": "hnsw"}}
    es.indices.create(index="nested", mappings={"properties": {
        "title": {"type": "text"}, "passages": {"type": "nested", "properties": {
            "text": {"type": "text"}, "vector": vector}}}})
    es.indices.create(index="flat", mappings={"properties": {
        "doc": {"type": "keyword"}, "text": {"type": "text"}, "vector": vector}})

    def nested_actions() -> Any:
        for d in range(docs):
            yield {"_index": "nested", "_id": str(d), "title": f"document {d}", "passages": [
                {"text": f"passage {p} of {d}", "vector": vectors[d * passages + p].tolist()}
                for p in range(passages)]}

    def flat_actions() -> Any:
        for d in range(docs):
            for p in range(passages):
                yield {"_index": "flat", "_id": f"{d}-{p}", "doc": str(d),
                       "text": f"passage {p} of {d}",
                       "vector": vectors[d * passages + p].tolist()}

    rates = {}
    for name, actions, count in (("nested", nested_actions, docs),
                                 ("flat", flat_actions, docs * passages)):
        start = time.perf_counter()
        bulk(es, actions(), chunk_size=500, refresh=True)
        rates[name] = count / (time.perf_counter() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--passages", type=int, default=5)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    vectors = clustered(args.docs * args.passages, args.dims, rng)
    queries = clustered(args.queries, args.dims, rng)
    with tempfile.TemporaryDirectory() as data:
        server = EngineServer(Path(data), port=0, security=False).start()
        try:
            es = Elasticsearch(server.url, request_timeout=120)
            rates = index_both(es, vectors, args.docs, args.passages, args.dims)
            print(f"bulk: nested {rates['nested']:,.0f} documents/s "
                  f"({rates['nested'] * args.passages:,.0f} passages/s), "
                  f"flat {rates['flat']:,.0f} chunks/s", file=sys.stderr)
            latencies = {"nested": Latency(), "flat": Latency()}
            recalls = []
            best = (vectors @ queries.T).reshape(args.docs, args.passages, -1).max(axis=1)
            for i, query in enumerate(queries):
                knn = {"field": "passages.vector", "query_vector": query.tolist(), "k": 10,
                       "num_candidates": 100}
                start = time.perf_counter()
                hits = es.search(index="nested", knn=knn, source=False)["hits"]["hits"]
                latencies["nested"].ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                es.search(index="flat", knn={**knn, "field": "vector"}, source=False)
                latencies["flat"].ms.append((time.perf_counter() - start) * 1000)
                exact = set(np.argsort(-best[:, i])[:10].tolist())
                recalls.append(len(exact & {int(h["_id"]) for h in hits}) / 10)
        finally:
            server.stop()
    for name, latency in latencies.items():
        what = "documents (best passage each)" if name == "nested" else "chunks"
        print(f"kNN top-10 {what}, {name}: p50 {latency.percentile(50):.1f} ms, "
              f"p95 {latency.percentile(95):.1f} ms")
    print(f"nested kNN recall@10 (documents by best passage, vs exact): "
          f"{float(np.mean(recalls)):.3f}")
    print(f"bulk: nested {rates['nested']:,.0f} documents/s, flat {rates['flat']:,.0f} chunks/s")


if __name__ == "__main__":
    main()
