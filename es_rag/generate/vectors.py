"""One ask's embeddings: each text is embedded once, however many stages score it.

`ask` wraps its embedder in a `MemoEmbedder` for the duration of the question: the search's
query vector is reused by the relevance floor, and the hits' vectors by the generator's
sentence scoring and citation support, instead of being computed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_rag.retrieve.embedding import ClusterQueryEmbedder, DocumentEmbedder, QueryEmbedder


class MemoEmbedder:
    """Wraps `inner` and remembers every vector it computed, by text (queries and passages apart).

    `embed_documents` embeds the texts it has not seen yet in one batch.

    >>> memo = MemoEmbedder(embedder)                   # doctest: +SKIP
    >>> memo.embed_documents(["a", "b"]); memo.embed_documents(["b", "c"])  # embeds a, b, c
    """

    def __init__(self, inner: DocumentEmbedder) -> None:
        self.inner = inner
        self._queries: dict[str, list[float]] = {}
        self._documents: dict[str, list[float]] = {}

    @property
    def tokenizer(self) -> Any:
        """The wrapped embedder's tokenizer (None when it has none)."""
        return getattr(self.inner, "tokenizer", None)

    def embed_query(self, text: str) -> list[float]:
        """The query vector of `text`, computed on first use."""
        if text not in self._queries:
            self._queries[text] = list(self.inner.embed_query(text))
        return self._queries[text]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One passage vector per text, in order; only unseen texts reach the wrapped embedder."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._documents))
        if missing:
            vectors = self.inner.embed_documents(missing)
            self._documents.update(zip(missing, (list(v) for v in vectors), strict=True))
        return [self._documents[t] for t in texts]


class ClusterMemoEmbedder(MemoEmbedder):
    """A `MemoEmbedder` around a cluster model: kNN still sends `query_vector_builder`."""

    inner: Any

    def query_vector_builder(self, text: str) -> dict[str, Any]:
        """The wrapped embedder's `query_vector_builder` (the cluster embeds the query)."""
        return dict(self.inner.query_vector_builder(text))


def memoise(embedder: QueryEmbedder | None) -> QueryEmbedder | None:
    """`embedder` behind a fresh memo (an embedder that cannot embed passages is returned as is)."""
    if not isinstance(embedder, DocumentEmbedder):
        return embedder
    if isinstance(embedder, ClusterQueryEmbedder):
        return ClusterMemoEmbedder(embedder)
    return MemoEmbedder(embedder)


def through_memo(own: DocumentEmbedder | None,
                 memo: QueryEmbedder | None) -> DocumentEmbedder | None:
    """A generator's own embedder, or the ask's memo when the memo wraps that very embedder."""
    if own is not None and isinstance(memo, MemoEmbedder) and memo.inner is own:
        return memo
    return own
