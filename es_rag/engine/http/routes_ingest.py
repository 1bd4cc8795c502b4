"""Ingest pipeline routes: store, get, delete and simulate pipelines."""

from __future__ import annotations

from ..errors import BadRequest
from ..ingest.processors.grok import ECS_MODES, builtin_patterns
from ..ingest.service import IngestService
from .rest import RestRequest, RestResponse, Router

_ACK = {"acknowledged": True}


def register(router: Router, ingest: IngestService) -> None:
    """Add the `_ingest/pipeline` routes served by `ingest`."""
    store = ingest.pipelines

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
