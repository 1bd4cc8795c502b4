"""Errors of ingest pipelines, shaped the way Elasticsearch renders them."""

from __future__ import annotations

from typing import Any

from es_rag.engine.errors import EngineError, ResourceNotFound


class PipelineConfigError(EngineError):
    """An invalid pipeline or processor definition (`ElasticsearchParseException`)."""

    status = 400
    error_type = "parse_exception"


def config_error(reason: str, processor_type: str | None = None, tag: str | None = None,
                 property_name: str | None = None) -> PipelineConfigError:
    """Elasticsearch's `newConfigurationException`: `[property] reason` plus metadata fields."""
    extra = {key: value for key, value in (("processor_type", processor_type),
                                            ("processor_tag", tag),
                                            ("property_name", property_name)) if value is not None}
    message = reason if property_name is None else f"[{property_name}] {reason}"
    return PipelineConfigError(message, **extra)


class FailProcessorError(EngineError):
    """Raised by the `fail` processor."""

    status = 500
    error_type = "fail_processor_exception"


class PipelineCycle(EngineError):
    """A pipeline that reaches itself through `pipeline` processors."""

    status = 500
    error_type = "graph_structure_exception"


class PipelineNotFound(ResourceNotFound):
    """GET of pipelines that match nothing: Elasticsearch answers 404 with the body `{}`."""

    def __init__(self, pipeline_id: str) -> None:
        super().__init__(f"pipeline [{pipeline_id}] is missing")

    def body(self) -> dict[str, Any]:
        """Elasticsearch's empty object, not an error body."""
        return {}


class ProcessorFailure(EngineError):
    """A processor's error wrapped with where it happened (`IngestProcessorException`).

    Elasticsearch unwraps it when answering, so the status and body are the cause's; the
    processor type, tag and pipeline feed `_ingest.on_failure_*` metadata.
    """

    def __init__(self, cause: EngineError, processor_type: str, tag: str | None,
                 pipeline: str | None) -> None:
        super().__init__(cause.reason, status=cause.status, error_type=cause.error_type,
                         **cause.extra)
        self.original = cause
        self.processor_type = processor_type
        self.tag = tag
        self.pipeline = pipeline

    def root_message(self) -> str:
        """The message of the innermost cause (Elasticsearch's `on_failure_message`)."""
        cause: dict[str, Any] = self.cause()
        while isinstance(cause.get("caused_by"), dict):
            cause = cause["caused_by"]
        return str(cause.get("reason"))
