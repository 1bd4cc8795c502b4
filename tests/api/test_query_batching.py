"""Concurrent searches share model calls: their query embeddings are computed in batches."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from elasticsearch import Elasticsearch
from retrieve.corpus import shared_embedder

from es_rag.api import create_api_app
from es_rag.config import Settings
from es_rag.serving import QueryBatcher

from .conftest import INDEX


class RecordingEmbedder:
    """Embeds like the shared model, recording each call's batch; the first call waits for
    `go`, so that the test can queue queries behind it."""

    def __init__(self) -> None:
        self.model = shared_embedder()
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.go = threading.Event()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        self.entered.set()
        self.go.wait(30)
        return self.model.embed_queries(texts)


def test_queries_arriving_during_a_model_call_are_embedded_together() -> None:
    embedder = RecordingEmbedder()
    batcher = QueryBatcher(embedder)
    texts = [f"what is the travel policy {i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.embed_query, texts[0])
        assert embedder.entered.wait(30)
        rest = [pool.submit(batcher.embed_query, text) for text in texts[1:]]
        deadline = time.monotonic() + 30
        while batcher._queue.qsize() < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        embedder.go.set()
        vectors = [first.result(30)] + [f.result(30) for f in rest]
    assert embedder.batches == [texts[:1], texts[1:]]
    alone = shared_embedder()
    for text, vector in zip(texts, vectors, strict=True):  # each caller gets its own vector
        assert max(abs(a - b) for a, b in zip(vector, alone.embed_query(text),
                                              strict=True)) < 1e-4


def test_a_model_error_reaches_every_waiting_caller() -> None:
    class Broken:
        def embed_query(self, text: str) -> list[float]:
            raise RuntimeError(f"model failed on {text!r}")

    batcher = QueryBatcher(Broken())
    try:
        batcher.embed_query("x")
    except RuntimeError as exc:
        assert str(exc) == "model failed on 'x'"
    else:
        raise AssertionError("the error was lost")


def test_concurrent_hybrid_searches_embed_each_query_once_in_shared_batches(
        engine: Any, cluster: Elasticsearch) -> None:
    embedder = RecordingEmbedder()
    embedder.go.set()
    app = create_api_app(Settings(url=engine.url, index=INDEX), embedder=embedder)
    queries = [f"quota for travel {i}" for i in range(48)]

    def search(query: str) -> dict[str, Any]:
        response = app.test_client().post("/api/search",
                                          json={"query": query, "mode": "hybrid"})
        assert response.status_code == 200, response.json
        return response.json

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(search, queries))
    assert all(r["hits"] for r in results)
    embedded = sorted(t for batch in embedder.batches for t in batch)
    assert embedded == sorted(queries)  # once per request: both legs share the vector
    assert len(embedder.batches) < len(queries)
