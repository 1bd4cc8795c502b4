"""Inference endpoints (`_inference`), their services, and semantic_text's index-time inference."""

from .semantic_ingest import SemanticIngest
from .service import InferenceService

__all__ = ["InferenceService", "SemanticIngest"]
