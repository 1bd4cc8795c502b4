"""What the API server and the admin UI share: the search embedder, loaded once on first use,
with concurrent query embeddings batched together, and serving a WSGI app until interrupted."""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from es_rag.config import Settings
from es_rag.embedding.protocols import ClusterQueryEmbedder

MAX_QUERY_BATCH = 32


@dataclass
class _Pending:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: list[float] | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Embeds the queries of concurrent requests together, in one model call per batch.

    `embed_query` queues the text and waits; one worker thread takes whatever is queued (up to
    `max_batch`) and embeds it with the model's `embed_queries` (or one `embed_query` per text).
    A query arriving alone is embedded at once; under load, the queries arriving while a batch
    runs form the next one, so no timer delays anybody. Every other attribute (`embed_documents`,
    `tokenizer`, `dims`...) is the wrapped embedder's.
    """

    def __init__(self, embedder: Any, max_batch: int = MAX_QUERY_BATCH) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self.batches: int = 0
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def embed_query(self, text: str) -> list[float]:
        """The query's vector, computed in a batch with the queries of concurrent requests."""
        pending = _Pending(text)
        self._queue.put(pending)
        self._start()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.vector is not None
        return pending.vector

    def __getattr__(self, name: str) -> Any:
        return getattr(self.embedder, name)

    def _start(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, daemon=True,
                                                 name="query-embedding-batcher")
                self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self.batches += 1
            try:
                vectors = self._embed([p.text for p in batch])
            except Exception as exc:  # noqa: BLE001 - each waiting request re-raises it
                for pending in batch:
                    pending.error = exc
            else:
                for pending, vector in zip(batch, vectors, strict=True):
                    pending.vector = list(vector)
            for pending in batch:
                pending.done.set()

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        many = getattr(self.embedder, "embed_queries", None)
        if many is not None:
            return list(many(texts))
        return [self.embedder.embed_query(text) for text in texts]


class SearchEmbedder:
    """Call it for the settings' search embedder (the model the chunks were indexed with; with
    `embedding = "cluster"`, one that has the cluster embed the query inside each kNN search).

    The model loads once, on the first call; `embedder` replaces it (tests). A model embedding
    queries here is put behind a `QueryBatcher`.
    """

    def __init__(self, settings: Settings, embedder: Any = None) -> None:
        self._settings = settings
        self._embedder = None if embedder is None else _batched(embedder)
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._embedder is None:
                from es_rag.embedding.factory import search_embedder

                self._embedder = _batched(search_embedder(self._settings))
            return self._embedder


def _batched(embedder: Any) -> Any:
    """The embedder behind a `QueryBatcher`, unless the cluster embeds its queries."""
    if isinstance(embedder, ClusterQueryEmbedder):
        return embedder
    return QueryBatcher(embedder)


def one_model_thread() -> None:
    """Run this process's model calls on one intra-op thread, unless `OMP_NUM_THREADS` says
    otherwise (call before serving). A server's concurrency comes from its request threads and
    query batching; more OpenMP threads than free cores stall: on 2 busy cores a batch of 8
    queries took 1,121 ms with 2 threads and 113 ms with one."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch when it loads
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def serve_wsgi(app: Flask, host: str, port: int) -> None:
    """Serve `app` with waitress (8 threads) until interrupted."""
    from waitress import serve

    serve(app, host=host, port=port, threads=8)
