"""Ingest pipelines of the embedded engine: the ingest service (`service.py`: stored pipelines,
and the requested or default pipeline then the final pipeline run on each write), the pipeline
store and its `_simulate`, pipeline execution with `on_failure` and conditions, and the
processors (`processors/`), one module per family."""

from es_rag.engine.ingest.failures import PipelineConfigError, PipelineNotFound
from es_rag.engine.ingest.store import IngestOutcome, PipelineStore

__all__ = ["IngestOutcome", "PipelineConfigError", "PipelineNotFound", "PipelineStore"]
