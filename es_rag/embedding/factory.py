"""The one place that chooses the embedder from the settings: local model, backend, or cluster.

```
embedder = embedder_for(settings)                   # embedding = "local": the local model
embedder = embedder_for(settings, client, caps)     # embedding = "cluster": the deployed model
embedder = search_embedder(settings)                # servers searching as each caller
```
With `embedding = "semantic_text"` both give a `SemanticTextEmbedder` (the cluster embeds
through the chunk index's semantic_text field; the local model scores what es-rag scores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from es_rag.config import Settings
from es_rag.embedding.cluster import (
    ClusterEmbedder,
    ClusterSearchEmbedder,
    require_ml,
)
from es_rag.embedding.local import Embedder
from es_rag.embedding.semantic_text import SemanticTextEmbedder

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from es_rag.connect import Capabilities
    from es_rag.embedding.onnx_model import OnnxEmbedder


def embedding_model(settings: Settings) -> str:
    """The local embedding model in use: the fine-tuned one `retrieval.json` records under
    `models.embedding` (`es-rag finetune activate`), else the settings' `embedding_model`."""
    from es_rag.retrieve.defaults import RetrievalFileError, read_file

    try:
        active = read_file(settings.assets).models.get("embedding")
    except RetrievalFileError:  # reported by whatever reads the retrieval parameters
        active = None
    return str(active["path"]) if active else settings.embedding_model


def local_embedder(settings: Settings) -> Embedder | OnnxEmbedder:
    """The local embedding model in use (`embedding_model`), on the configured
    `embedding_backend`.

    torch: sentence-transformers. onnx / onnx-int8: ONNX Runtime, with the export cached in
    `embedding_cache`, else beside the model or under <data>/models (torch is imported only to
    export, once).
    """
    model = embedding_model(settings)
    if settings.embedding_backend == "torch":
        return Embedder(model)
    from es_rag.embedding.onnx_model import OnnxEmbedder

    return OnnxEmbedder(model, cache_root=settings.embedding_cache,
                        fallback_root=settings.data / "models",
                        quantized=settings.embedding_backend == "onnx-int8")


def search_embedder(settings: Settings
                    ) -> Embedder | OnnxEmbedder | ClusterSearchEmbedder | SemanticTextEmbedder:
    """The embedder of a server whose searches run with each caller's client.

    `embedding = "local"`: the local model. `embedding = "cluster"`: a `ClusterSearchEmbedder`,
    so every kNN search has the cluster embed the query.
    """
    if settings.embedding == "semantic_text":
        return SemanticTextEmbedder(settings.semantic_inference_id, local_embedder(settings))
    if settings.embedding == "cluster":
        return ClusterSearchEmbedder(settings.cluster_model_id, local_embedder(settings))
    return local_embedder(settings)


def embedder_for(settings: Settings, client: Elasticsearch | None = None,
                 caps: Capabilities | None = None
                 ) -> Embedder | OnnxEmbedder | ClusterEmbedder | SemanticTextEmbedder:
    """The embedder the settings choose: the local model (`local_embedder`), or the cluster's.

    For `embedding = "cluster"` the client and capabilities are needed; it raises
    ClusterEmbeddingError when the cluster has no ML or the model is not deployed and started.
    """
    if settings.embedding == "local":
        return local_embedder(settings)
    if settings.embedding == "semantic_text":
        return SemanticTextEmbedder(settings.semantic_inference_id, local_embedder(settings))
    if client is None or caps is None:
        raise ValueError('embedding = "cluster" needs the client and the cluster capabilities')
    require_ml(caps)
    embedder = ClusterEmbedder(client, settings.cluster_model_id,
                               local_model=settings.embedding_model)
    embedder.check_deployed()
    return embedder
