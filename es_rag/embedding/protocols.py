"""What retrieval and generation need from an embedding model, as protocols.

`es_rag.embedding.local.Embedder` satisfies them, and so does `es_rag.ingest.ClusterEmbedder`,
which also lets the cluster embed queries (`ClusterQueryEmbedder`); tests may pass any object
with the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class QueryEmbedder(Protocol):
    """Turns a query into the vector the chunks were indexed with (same model, same dims)."""

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class DocumentEmbedder(QueryEmbedder, Protocol):
    """Also embeds passages: used to re-score passages and sentences against a query."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...


@runtime_checkable
class ClusterQueryEmbedder(QueryEmbedder, Protocol):
    """A model deployed in the cluster: kNN clauses send `query_vector_builder`, not a vector."""

    def query_vector_builder(self, text: str) -> dict[str, Any]: ...
