"""What the API server and the admin UI share: the search embedder, loaded once on first use,
and serving a WSGI app until interrupted."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask

from es_rag.config import Settings


class SearchEmbedder:
    """Call it for the settings' search embedder (the model the chunks were indexed with; with
    `embedding = "cluster"`, one that has the cluster embed the query inside each kNN search).

    The model loads once, on the first call; `embedder` replaces it (tests).
    """

    def __init__(self, settings: Settings, embedder: Any = None) -> None:
        self._settings = settings
        self._embedder = embedder
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._embedder is None:
                from es_rag.ingest.cluster_embed import search_embedder

                self._embedder = search_embedder(self._settings)
            return self._embedder


def serve_wsgi(app: Flask, host: str, port: int) -> None:
    """Serve `app` with waitress (8 threads) until interrupted."""
    from waitress import serve

    serve(app, host=host, port=port, threads=8)
