"""The one query-vector cache: each text is embedded once, however many stages or searches use it.

`VectorCache` wraps an embedder and remembers the vectors it computed, by text. An ask wraps its
embedder for the duration of the question (`memoise`): the search's query vector is reused by the
relevance floor, and the hits' vectors by the generator's sentence scoring and citation support.
An evaluation wraps it for its run (each judged query is embedded once for every configuration),
and the admin UI's playground keeps the vectors of its last 512 queries (`size=512`), so moving a
control does not re-embed the query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from es_rag.embedding.protocols import ClusterQueryEmbedder, DocumentEmbedder, QueryEmbedder


class VectorCache:
    """Wraps `inner`; remembers query vectors (the last `size` distinct queries, all when `size`
    is None) and, with `passages=True`, passage vectors too. Safe to share between threads.

    >>> cache = VectorCache(embedder)                   # doctest: +SKIP
    >>> cache.embed_documents(["a", "b"]); cache.embed_documents(["b", "c"])  # embeds a, b, c
    """

    def __init__(self, inner: Any, *, size: int | None = None, passages: bool = True) -> None:
        if size is not None and size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.inner = inner
        self.size = size
        self.passages = passages
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        self._documents: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> Any:
        """The wrapped embedder's tokenizer (None when it has none)."""
        return getattr(self.inner, "tokenizer", None)

    @property
    def semantic_field(self) -> str | None:
        """The wrapped embedder's semantic_text field (embedding = semantic_text), else None."""
        return getattr(self.inner, "semantic_field", None)

    def embed_query(self, text: str) -> list[float]:
        """The query vector of `text`, computed on first use."""
        with self._lock:
            vector = self._queries.get(text)
            if vector is not None:
                self._queries.move_to_end(text)
                return vector
        vector = list(self.inner.embed_query(text))
        with self._lock:
            self._queries[text] = vector
            while self.size is not None and len(self._queries) > self.size:
                self._queries.popitem(last=False)
        return vector

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One passage vector per text, in order; with `passages`, only texts not seen before
        reach the wrapped embedder (in one batch)."""
        if not self.passages:
            return list(self.inner.embed_documents(texts))
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._documents))
        if missing:
            vectors = self.inner.embed_documents(missing)
            with self._lock:
                self._documents.update(zip(missing, (list(v) for v in vectors), strict=True))
        with self._lock:
            return [self._documents[t] for t in texts]


class ClusterVectorCache(VectorCache):
    """A `VectorCache` around a cluster model: kNN still sends `query_vector_builder`."""

    def query_vector_builder(self, text: str) -> dict[str, Any]:
        """The wrapped embedder's `query_vector_builder` (the cluster embeds the query)."""
        return dict(self.inner.query_vector_builder(text))


def memoise(embedder: QueryEmbedder | None) -> QueryEmbedder | None:
    """`embedder` behind a fresh cache (one that cannot embed passages is returned as is)."""
    if not isinstance(embedder, DocumentEmbedder):
        return embedder
    if isinstance(embedder, ClusterQueryEmbedder):
        return ClusterVectorCache(embedder)
    return VectorCache(embedder)


def through_memo(own: DocumentEmbedder | None,
                 memo: QueryEmbedder | None) -> DocumentEmbedder | None:
    """A generator's own embedder, or the ask's cache when the cache wraps that very embedder."""
    if own is not None and isinstance(memo, VectorCache) and memo.inner is own:
        return memo
    return own
