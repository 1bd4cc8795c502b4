"""Stored ingest pipelines: CRUD, persistence, and running documents through them."""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from es_rag.engine.errors import BadRequest, ResourceNotFound
from es_rag.engine.ingest.document import IngestDocument
from es_rag.engine.ingest.failures import PipelineNotFound
from es_rag.engine.ingest.metrics import IngestMetrics
from es_rag.engine.ingest.persisted import PersistedJson
from es_rag.engine.ingest.pipeline import Execution, Pipeline, build_pipeline
from es_rag.engine.ingest.simulate import simulate_pipeline

if TYPE_CHECKING:
    from es_rag.engine.ml import MlService


@dataclass
class IngestOutcome:
    """Where and what to index after a pipeline ran (it may have changed `_index` or `_id`)."""

    index: str
    doc_id: str | None
    source: dict[str, Any]
    routing: str | None = None
    executed_pipelines: list[str] = field(default_factory=list)
    version: int | None = None          # `_version` and `_version_type` a pipeline set
    version_type: str | None = None


_VERSION_TYPES = ("internal", "external", "external_gte")


class PipelineStore:
    """Ingest pipelines by id, validated on `put` and persisted to a JSON file at `path`.

    Example::

        store = PipelineStore(data_dir / "pipelines.json")
        store.put("lower", {"processors": [{"lowercase": {"field": "title"}}]})
        store.execute("lower", index="docs", doc_id="1", source={"title": "HeLLo"}).source
        # {'title': 'hello'}
    """

    def __init__(self, path: Path, ml: MlService | None = None) -> None:
        self._ml = ml
        self._definitions = PersistedJson(path)
        self._compiled: dict[str, Pipeline] = {}
        self._lock = threading.Lock()
        self._metrics = IngestMetrics()

    def put(self, pipeline_id: str, body: dict[str, Any], if_version: int | None = None
            ) -> None:
        """Validate and store a pipeline (`PUT _ingest/pipeline/{id}` → `{"acknowledged": true}`).

        Raises `PipelineConfigError` (400 `parse_exception`, with `processor_type`,
        `processor_tag` and `property_name` where Elasticsearch gives them).
        """
        if not pipeline_id:
            raise BadRequest("pipeline id must not be empty")
        pipeline = build_pipeline(pipeline_id, body)
        with self._definitions.changing() as definitions:
            if if_version is not None:
                body = _versioned_update(pipeline_id, body, definitions.get(pipeline_id),
                                         if_version)
            definitions[pipeline_id] = copy.deepcopy(body)
            with self._lock:
                self._compiled[pipeline_id] = pipeline

    def get(self, pipeline_id: str | None = None, summary: bool = False) -> dict[str, Any]:
        """The `GET _ingest/pipeline[/{id}]` body: `{id: definition}` for every match.

        `pipeline_id` may be a comma list with `*` wildcards; None means all. When nothing
        matches, raises `PipelineNotFound`, whose status is 404 and whose `body()` is `{}` —
        exactly what Elasticsearch answers (also for GET of all pipelines when there are none).
        With `summary`, definitions are replaced by `{}`.
        """
        definitions = self._definitions.snapshot()
        names = _matching(definitions, pipeline_id)
        if not names:
            raise PipelineNotFound(pipeline_id or "*")
        return {name: {} if summary else copy.deepcopy(definitions[name]) for name in names}

    def delete(self, pipeline_id: str) -> None:
        """Delete a pipeline or every pipeline a wildcard matches (`{"acknowledged": true}`).

        Raises `ResourceNotFound` (404, "pipeline [id] is missing") when nothing matches.
        """
        with self._definitions.changing() as definitions:
            names = _matching(definitions, pipeline_id)
            if not names:
                raise ResourceNotFound(f"pipeline [{pipeline_id}] is missing")
            for name in names:
                del definitions[name]
                self._metrics.forget(name)
                with self._lock:
                    self._compiled.pop(name, None)

    def exists(self, pipeline_id: str) -> bool:
        """Whether a pipeline with exactly this id is stored."""
        return self._definitions.get(pipeline_id) is not None

    def execute(self, pipeline_id: str, *, index: str, doc_id: str | None,
                source: dict[str, Any], routing: str | None = None) -> IngestOutcome | None:
        """Run one document through a pipeline; None means a `drop` processor dropped it.

        Raises `BadRequest` ("pipeline with id [x] does not exist") for an unknown pipeline,
        and for a processor failure not handled by `on_failure`/`ignore_failure` an
        `EngineError` whose status and body are Elasticsearch's for that failure (for
        example 400 `illegal_argument_exception`, or 500 `fail_processor_exception` with the
        `fail` processor's message) — the same body goes in a bulk item's `error`.
        """
        pipeline = self._pipeline(pipeline_id)
        if pipeline is None:
            raise BadRequest(f"pipeline with id [{pipeline_id}] does not exist")
        doc = IngestDocument(index, doc_id, source, routing=routing)
        execution = Execution(self._pipeline, metrics=self._metrics, ml=self._ml)
        result = execution.run_pipeline(pipeline, doc)
        if result is None:
            return None
        metadata = result.metadata
        new_id = metadata.get("_id")
        new_routing = metadata.get("_routing")
        version, version_type = metadata.get("_version"), metadata.get("_version_type")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise BadRequest(f"field [_version] of type [{type(version).__name__}] cannot be "
                             "cast to [java.lang.Long]")
        if version_type is not None and version_type not in _VERSION_TYPES:
            raise BadRequest(f"No version type match [{version_type}]")
        return IngestOutcome(str(metadata.get("_index", index)),
                             None if new_id is None else str(new_id), result.source,
                             None if new_routing is None else str(new_routing),
                             execution.executed, version, version_type)

    def stats(self) -> dict[str, Any]:
        """The `ingest` section of `GET _nodes/stats` (`total` and `pipelines` counters for
        documents run by `execute`; `current` is always 0, `processors` is left empty)."""
        return self._metrics.stats(list(self._definitions.snapshot()))

    def simulate(self, body: dict[str, Any], pipeline_id: str | None = None,
                 verbose: bool = False) -> dict[str, Any]:
        """The `_ingest/pipeline[/{id}]/_simulate` response body.

        Per document: `{"doc": {...}}`, `{"error": {...}}`, `null` when dropped, or with
        `verbose` `{"processor_results": [...]}`. Raises `BadRequest` when `pipeline_id` is
        not stored ("pipeline [x] does not exist") and `PipelineConfigError` for a bad body.
        """
        pipeline = None
        if pipeline_id is not None:
            pipeline = self._pipeline(pipeline_id)
            if pipeline is None:
                raise BadRequest(f"pipeline [{pipeline_id}] does not exist")
        return simulate_pipeline(body, pipeline, verbose, self._pipeline, self._ml)

    def _pipeline(self, pipeline_id: str) -> Pipeline | None:
        with self._lock:
            pipeline = self._compiled.get(pipeline_id)
        if pipeline is not None:
            return pipeline
        definition = self._definitions.get(pipeline_id)
        if definition is None:
            return None
        pipeline = build_pipeline(pipeline_id, definition)
        with self._lock:
            self._compiled[pipeline_id] = pipeline
        return pipeline


def _matching(definitions: dict[str, Any], pattern: str | None) -> list[str]:
    if pattern is None or pattern in ("", "*", "_all"):
        return list(definitions)
    names: list[str] = []
    for part in pattern.split(","):
        regex = re.compile(".*".join(re.escape(piece) for piece in part.strip().split("*")))
        names.extend(name for name in definitions
                     if regex.fullmatch(name) and name not in names)
    return names


def _versioned_update(pipeline_id: str, body: dict[str, Any], current: dict[str, Any] | None,
                      if_version: int) -> dict[str, Any]:
    """`PUT …?if_version=N`: only over version N, to another version (N+1 when the body names
    none), as Elasticsearch's `IngestService` checks it."""
    if current is None:
        raise BadRequest(f"version conflict, required version [{if_version}] for pipeline "
                         f"[{pipeline_id}] but no pipeline was found")
    current_version = current.get("version")
    if current_version != if_version:
        shown = "null" if current_version is None else current_version
        raise BadRequest(f"version conflict, required version [{if_version}] for pipeline "
                         f"[{pipeline_id}] but current version is [{shown}]")
    if "version" in body and body["version"] == current_version:
        raise BadRequest(f"cannot update pipeline [{pipeline_id}] with the same version "
                         f"[{if_version}]")
    if body.get("version") is None:
        body = {**body, "version": if_version + 1}
    return body
