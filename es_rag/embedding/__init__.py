"""Embedding, in one place: what retrieval needs from a model (`protocols`), the local
sentence-transformers model (`local`) and its ONNX Runtime backend (`onnx_model`, `onnx_export`),
a model deployed in the cluster (`cluster`) and its upload (`cluster_upload`), the one
query-vector cache (`cache`) and the one factory choosing the embedder from the settings
(`factory`). Importing the package loads no model and no torch."""

from es_rag.embedding.protocols import ClusterQueryEmbedder, DocumentEmbedder, QueryEmbedder

__all__ = ["ClusterQueryEmbedder", "DocumentEmbedder", "QueryEmbedder"]
