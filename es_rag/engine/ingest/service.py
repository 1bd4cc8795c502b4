"""The ingest service: the stored pipelines, and the pipelines a write runs (requested or the
index's `default_pipeline`, then its `final_pipeline`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from es_rag.engine.date_math_names import resolve as resolve_date_math_name
from es_rag.engine.ingest.failures import PipelineNotFound
from es_rag.engine.ingest.processors.inference import model_references
from es_rag.engine.ingest.store import IngestOutcome, PipelineStore

if TYPE_CHECKING:
    from es_rag.engine.ml import MlService
    from es_rag.engine.node import IndexService, Node


class IngestService:
    """Pipelines stored under the node's data directory, run on index and bulk writes."""

    def __init__(self, node: Node, ml: MlService | None = None) -> None:
        self.node = node
        self.pipelines = PipelineStore(node.data_dir / "pipelines.json", ml=ml)

    def run(self, index: str, doc_id: str | None, source: dict[str, Any],
            requested: str | None) -> IngestOutcome | None:
        """Run the request's pipeline (or the index's `default_pipeline`), then the
        `final_pipeline` of the index the document ends up in; None when a processor drops it."""
        svc = self._target(index)
        pipeline = requested
        if pipeline is None:
            pipeline = self._setting(svc, index, "default_pipeline")
        outcome = IngestOutcome(index, doc_id, source)
        if pipeline and pipeline != "_none":
            result = self.pipelines.execute(pipeline, index=index, doc_id=doc_id, source=source)
            if result is None:
                return None
            outcome = result
        outcome.index = resolve_date_math_name(outcome.index)  # as `date_index_name` sets it
        if outcome.index == index:
            final = self._setting(svc, index, "final_pipeline")
        else:
            final = self._setting(self._target(outcome.index), outcome.index, "final_pipeline")
        if final and final != "_none":
            final_outcome = self.pipelines.execute(final, index=outcome.index,
                                                   doc_id=outcome.doc_id, source=outcome.source)
            if final_outcome is not None and final_outcome.version is None:
                final_outcome.version = outcome.version
                final_outcome.version_type = outcome.version_type
            return final_outcome
        return outcome

    def model_references(self) -> dict[str, int]:
        """Model id → how many inference processors of stored pipelines name it."""
        try:
            return model_references(self.pipelines.get())
        except PipelineNotFound:
            return {}

    def _setting(self, svc: IndexService | None, index: str, name: str) -> Any:
        """An index setting of the write's target; for an index that does not exist yet, the
        one the legacy templates matching its name would give it (as Elasticsearch resolves
        the pipelines of a write that will create its index)."""
        if svc is not None:
            return svc.setting(name)
        return self.node.templates.setting(index, name)

    def _target(self, index: str) -> IndexService | None:
        """The index a write to `index` lands in (an alias's write index), if it exists."""
        svc = self.node.indices.get(index)
        if svc is None and index in self.node.alias_names():
            try:
                svc = self.node.write_index(index, auto_create=False)
            except Exception:  # noqa: BLE001 - the write itself reports alias problems
                svc = None
        return svc
