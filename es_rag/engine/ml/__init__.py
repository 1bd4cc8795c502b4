"""Trained models in the embedded engine: PyTorch text embedding models uploaded as eland does,
deployed on CPU, used by `_infer`, the ingest `inference` processor and kNN's
`query_vector_builder`."""

from .service import MlService

__all__ = ["MlService"]
