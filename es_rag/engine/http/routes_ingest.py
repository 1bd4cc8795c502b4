"""Ingest pipeline routes, and the hook that runs pipelines on index and bulk writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..date_math_names import resolve
from ..errors import BadRequest
from ..ingest import IngestOutcome, PipelineStore
from ..ingest.failures import PipelineNotFound
from ..ingest.processors.grok import ECS_MODES, builtin_patterns
from ..ingest.processors.inference import model_references
from .rest import RestRequest, RestResponse, Router

if TYPE_CHECKING:
    from ..app import EngineApp

_ACK = {"acknowledged": True}


def pipeline_hook(app: EngineApp, store: PipelineStore) -> Any:
    """Run the request's pipeline (or the index's `default_pipeline`), then `final_pipeline`."""
    node = app.node

    def run(index: str, doc_id: str | None, source: dict[str, Any], requested: str | None
            ) -> IngestOutcome | None:
        svc = node.indices.get(index)
        if svc is None and index in node.alias_names():
            try:
                svc = node.write_index(index, auto_create=False)
            except Exception:  # noqa: BLE001 - the write itself reports alias problems
                svc = None
        pipeline = requested
        if pipeline is None and svc is not None:
            pipeline = svc.setting("default_pipeline")
        outcome = IngestOutcome(index, doc_id, source)
        if pipeline and pipeline != "_none":
            result = store.execute(pipeline, index=index, doc_id=doc_id, source=source)
            if result is None:
                return None
            outcome = result
        outcome.index = resolve(outcome.index)  # a date math name `date_index_name` set
        final_svc = node.indices.get(outcome.index) or svc
        final = final_svc.setting("final_pipeline") if final_svc is not None else None
        if final and final != "_none":
            final_outcome = store.execute(final, index=outcome.index, doc_id=outcome.doc_id,
                                          source=outcome.source)
            if final_outcome is not None and final_outcome.version is None:
                final_outcome.version = outcome.version
                final_outcome.version_type = outcome.version_type
            return final_outcome
        return outcome

    return run


def register(router: Router, app: EngineApp) -> None:
    store = PipelineStore(app.node.data_dir / "pipelines.json", ml=app.ml)
    app.documents.pipeline = pipeline_hook(app, store)

    def references() -> dict[str, int]:
        try:
            return model_references(store.get())
        except PipelineNotFound:
            return {}

    app.ml.pipeline_references = references

    def put(req: RestRequest) -> RestResponse:
        if_version = req.params.get("if_version")
        store.put(req.path_params["id"], req.json(required=True),
                  if_version=None if if_version is None else int(if_version))
        return RestResponse(_ACK)

    def get(req: RestRequest) -> RestResponse:
        return RestResponse(store.get(req.path_params.get("id"), summary=req.flag("summary")))

    def delete(req: RestRequest) -> RestResponse:
        store.delete(req.path_params["id"])
        return RestResponse(_ACK)

    def simulate(req: RestRequest) -> RestResponse:
        return RestResponse(store.simulate(req.json(required=True), req.path_params.get("id"),
                                           verbose=req.flag("verbose")))

    def grok_patterns(req: RestRequest) -> RestResponse:
        mode = req.params.get("ecs_compatibility", "disabled")
        if mode not in ECS_MODES:
            raise BadRequest(f"unsupported ECS compatibility mode [{mode}]")
        if mode == "v1":
            raise BadRequest("the ECS v1 grok pattern set is not bundled with the embedded "
                             "engine")
        patterns = builtin_patterns()
        if req.flag("s"):
            patterns = dict(sorted(patterns.items()))
        return RestResponse({"patterns": patterns})

    router.add("GET", "/_ingest/processor/grok", grok_patterns, "ecs_compatibility s")
    router.add("PUT", "/_ingest/pipeline/{id}", put, "master_timeout timeout if_version")
    router.add("GET", "/_ingest/pipeline", get, "master_timeout summary")
    router.add("GET", "/_ingest/pipeline/{id}", get, "master_timeout summary")
    router.add("DELETE", "/_ingest/pipeline/{id}", delete, "master_timeout timeout")
    router.add("GET POST", "/_ingest/pipeline/_simulate", simulate, "verbose")
    router.add("GET POST", "/_ingest/pipeline/{id}/_simulate", simulate, "verbose")
