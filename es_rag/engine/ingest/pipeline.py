"""Compiling a pipeline definition and running documents through it, failures and all."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_rag.engine.errors import EngineError
from es_rag.engine.ingest.condition import (
    UNSUPPORTED,
    Condition,
    UnsupportedCondition,
    compile_condition,
)
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.failures import (
    PipelineConfigError,
    PipelineCycle,
    ProcessorFailure,
    config_error,
)
from es_rag.engine.ingest.metrics import IngestMetrics
from es_rag.engine.ingest.processors import REGISTRY, Processor

if TYPE_CHECKING:
    from es_rag.engine.ml import MlService

_PIPELINE_FIELDS = ("description", "processors", "on_failure", "version", "_meta", "deprecated")
_FAILURE_FIELDS = ("on_failure_message", "on_failure_processor_type",
                   "on_failure_processor_tag", "on_failure_pipeline")


@dataclass
class Step:
    """One configured processor with its `if`, `ignore_failure` and `on_failure`."""

    processor: Processor
    type: str
    tag: str | None
    description: str | None
    condition: Condition | None
    ignore_failure: bool
    on_failure: list[Step]


@dataclass
class Pipeline:
    """A validated pipeline, ready to run."""

    id: str
    steps: list[Step]
    on_failure: list[Step] = field(default_factory=list)


def build_pipeline(pipeline_id: str, body: Any) -> Pipeline:
    """Validate a pipeline definition; raises `PipelineConfigError` (`parse_exception`)."""
    if not isinstance(body, dict):
        raise config_error(f"pipeline [{pipeline_id}] definition must be an object")
    if body.get("processors") is None:
        raise config_error("[processors] required property is missing")
    steps = _read_steps(body["processors"], "processors")
    on_failure = body.get("on_failure")
    on_failure_steps = _read_steps(on_failure if on_failure is not None else [], "on_failure")
    unknown = [key for key in body if key not in _PIPELINE_FIELDS]
    if unknown:
        raise config_error(f"pipeline [{pipeline_id}] doesn't support one or more provided "
                           f"configuration parameters [{', '.join(unknown)}]")
    if on_failure is not None and not on_failure_steps:
        raise config_error(f"pipeline [{pipeline_id}] cannot have an empty on_failure option "
                           "defined")
    return Pipeline(pipeline_id, steps, on_failure_steps)


def _read_steps(configs: Any, name: str) -> list[Step]:
    if not isinstance(configs, list):
        raise config_error(f"property isn't a list, but of type [{java_type(configs)}]",
                           property_name=name)
    steps: list[Step] = []
    for entry in configs:
        if not isinstance(entry, dict):
            raise config_error(f"property isn't a map, but of type [{java_type(entry)}]",
                               property_name=name)
        for processor_type, config in entry.items():
            steps.append(read_step(processor_type, config))
    return steps


def read_step(processor_type: str, config: Any) -> Step:
    """Validate one processor's configuration (with `if`, `on_failure`, …) into a `Step`."""
    if not isinstance(config, dict):
        raise config_error(f"property isn't a map, but of type [{java_type(config)}]",
                           processor_type)
    config = dict(config)
    tag = config.pop("tag", None)
    if tag is not None and not isinstance(tag, str):
        raise config_error(f"property isn't a string, but of type [{java_type(tag)}]",
                           property_name="tag")
    description = config.pop("description", None)
    condition_source = config.pop("if", None)
    processor_class = REGISTRY.get(processor_type)
    if processor_class is None:
        raise config_error(f"No processor type exists with name [{processor_type}]",
                           processor_type, tag)
    reader = ProcessorConfig(processor_type, tag, config)
    ignore_failure = reader.read_bool("ignore_failure", False)
    on_failure_configs = reader.read_list("on_failure", None)
    on_failure = _read_steps(on_failure_configs or [], "on_failure")
    if on_failure_configs is not None and not on_failure:
        raise reader.error("on_failure", "processors list cannot be empty")
    try:
        processor = processor_class(reader)
        reader.ensure_consumed()
    except PipelineConfigError as exc:
        exc.extra.setdefault("processor_type", processor_type)
        if tag is not None:
            exc.extra.setdefault("processor_tag", tag)
        raise
    return Step(processor, processor_type, tag, description,
                _condition(reader, condition_source), ignore_failure, on_failure)


def _condition(reader: ProcessorConfig, source: Any) -> Condition | None:
    if source is None:
        return None
    try:
        return compile_condition(source)
    except UnsupportedCondition as exc:
        raise reader.error("if", f"{UNSUPPORTED}: [{source}] ({exc}); conditions may only use "
                                 "ctx field access (. ?. [..]), literals, == != < <= > >=, "
                                 "&& || ! and parentheses") from None


class Execution:
    """Runs documents through pipelines; `results` (a list) collects verbose simulate entries.

    `resolve` looks up other pipelines for the `pipeline` processor; `metrics`, when given,
    counts every pipeline run; `executed` lists the pipelines run, in order; `ml` is the
    trained-model service the `inference` processor runs models with.
    """

    def __init__(self, resolve: Callable[[str], Pipeline | None],
                 results: list[dict[str, Any]] | None = None,
                 metrics: IngestMetrics | None = None, ml: MlService | None = None) -> None:
        self._resolve = resolve
        self.ml = ml
        self.results = results
        self._metrics = metrics
        self.executed: list[str] = []
        self._current: tuple[Step, bool | None]

    def run_pipeline(self, pipeline: Pipeline, doc: IngestDocument) -> IngestDocument | None:
        """Elasticsearch's `IngestDocument.executePipeline`: cycle check, `_ingest.pipeline`."""
        if pipeline.id in doc.pipeline_stack:
            raise PipelineCycle(f"Cycle detected for pipeline: {pipeline.id}")
        doc.pipeline_stack.append(pipeline.id)
        self.executed.append(pipeline.id)
        previous = doc.ingest.get("pipeline")
        doc.ingest["pipeline"] = pipeline.id
        started = time.perf_counter()
        failed = True
        try:
            result = self._run_steps(pipeline.steps, pipeline.on_failure, doc)
            failed = False
            return result
        finally:
            doc.terminated = False  # `terminate` ends this pipeline, not the one calling it
            doc.pipeline_stack.pop()
            if self._metrics is not None:
                self._metrics.record(pipeline.id, time.perf_counter() - started, failed,
                                     top_level=not doc.pipeline_stack)
            if previous is None:
                doc.ingest.pop("pipeline", None)
            else:
                doc.ingest["pipeline"] = previous

    def call_pipeline(self, name: str, doc: IngestDocument,
                      ignore_missing: bool) -> IngestDocument | None:
        """What the `pipeline` processor does (it is the step being executed)."""
        step, condition = self._current
        pipeline = self._resolve(name)
        if pipeline is None:
            missing = EngineError(f"Pipeline processor configured for non-existent pipeline "
                                  f"[{name}]", status=500, error_type="illegal_state_exception")
            if not ignore_missing:
                raise missing
            self._record(step, "error_ignored", condition=condition, error=missing, doc=doc)
            return doc
        self._record(step, "success", condition=condition)
        return self.run_pipeline(pipeline, doc)

    def _run_steps(self, steps: list[Step], on_failure: list[Step],
                   doc: IngestDocument) -> IngestDocument | None:
        current: IngestDocument | None = doc
        for step in steps:
            try:
                current = self.run_step(step, doc)
            except EngineError as exc:
                failure = _wrap(exc, step, doc)
                if not on_failure:
                    raise failure from exc
                return self._on_failure(on_failure, doc, failure)
            if current is None:
                return None
            if doc.terminated:
                break
        return current

    def run_step(self, step: Step, doc: IngestDocument) -> IngestDocument | None:
        """Run one step: its condition, the processor, and its own failure handling."""
        if step.condition is not None:
            matched = step.condition.evaluate(doc.data)
            if not matched:
                self._record(step, "skipped", condition=False)
                return doc
        if not step.on_failure and not step.ignore_failure:
            return self._execute(step, doc, ignored=False)
        try:
            return self._execute(step, doc, ignored=step.ignore_failure)
        except EngineError as exc:
            if step.ignore_failure:
                return doc
            return self._on_failure(step.on_failure, doc, _wrap(exc, step, doc))

    def _execute(self, step: Step, doc: IngestDocument, ignored: bool) -> IngestDocument | None:
        condition = None if step.condition is None else True
        self._current = (step, condition)
        try:
            result = step.processor.execute(doc, self)
        except EngineError as exc:
            # a nested pipeline has already reported the processor that failed in it
            if not (step.type == "pipeline" and isinstance(exc, ProcessorFailure)):
                self._record(step, "error_ignored" if ignored else "error", condition=condition,
                             error=exc, doc=doc if ignored else None)
            raise
        if step.type != "pipeline":
            self._record(step, "success" if result is not None else "dropped",
                         condition=condition, doc=result)
        return result

    def _on_failure(self, steps: list[Step], doc: IngestDocument,
                    failure: ProcessorFailure) -> IngestDocument | None:
        doc.ingest.update({
            "on_failure_message": failure.root_message(),
            "on_failure_processor_type": failure.processor_type,
            "on_failure_processor_tag": failure.tag,
        })
        if failure.pipeline is not None:
            doc.ingest["on_failure_pipeline"] = failure.pipeline
        for step in steps:
            try:
                result = self.run_step(step, doc)
            except EngineError as exc:
                _clear_failure(doc)
                raise _wrap(exc, step, doc) from exc
            if result is None:
                return None
        _clear_failure(doc)
        return doc

    def _record(self, step: Step, status: str, *, condition: bool | None = None,
                error: EngineError | None = None, doc: IngestDocument | None = None) -> None:
        if self.results is None:
            return
        entry: dict[str, Any] = {"processor_type": step.type, "status": status}
        if step.description is not None:
            entry["description"] = step.description
        if step.tag is not None:
            entry["tag"] = step.tag
        if condition is not None and step.condition is not None:
            entry["if"] = {"condition": step.condition.source, "result": condition}
        if error is not None:
            entry["ignored_error" if doc is not None else "error"] = (
                {"error": error.body()["error"]} if doc is not None else error.body()["error"])
        if doc is not None:
            entry["doc"] = doc.snapshot()
        self.results.append(entry)


def _wrap(exc: EngineError, step: Step, doc: IngestDocument) -> ProcessorFailure:
    if isinstance(exc, ProcessorFailure):
        return exc
    pipeline = doc.pipeline_stack[-1] if doc.pipeline_stack else None
    return ProcessorFailure(exc, step.type, step.tag, pipeline)


def _clear_failure(doc: IngestDocument) -> None:
    for name in _FAILURE_FIELDS:
        doc.ingest.pop(name, None)
