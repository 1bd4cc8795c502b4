"""Ingest pipelines of the embedded engine: processors, `on_failure`, `_simulate`, storage."""

from es_rag.engine.ingest.failures import PipelineConfigError, PipelineNotFound
from es_rag.engine.ingest.store import IngestOutcome, PipelineStore

__all__ = ["IngestOutcome", "PipelineConfigError", "PipelineNotFound", "PipelineStore"]
