"""Query vectors of recent playground queries, so moving a control does not re-embed the query."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

RECENT_QUERIES = 512


class RecentQueryVectors:
    """Wraps an embedder; remembers the vectors of the last `size` distinct queries."""

    def __init__(self, embedder: Any, size: int = RECENT_QUERIES) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
                return vector
        vector = list(self.embedder.embed_query(text))
        with self._lock:
            self._vectors[text] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts)
