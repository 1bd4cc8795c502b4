"""Ingest pipeline routes: store, get, delete and simulate pipelines."""

from __future__ import annotations

from ..ingest.service import IngestService
from .rest import RestRequest, RestResponse, Router

_ACK = {"acknowledged": True}


def register(router: Router, ingest: IngestService) -> None:
    """Add the `_ingest/pipeline` routes served by `ingest`."""
    store = ingest.pipelines

    def put(req: RestRequest) -> RestResponse:
        store.put(req.path_params["id"], req.json(required=True))
        return RestResponse(_ACK)

    def get(req: RestRequest) -> RestResponse:
        return RestResponse(store.get(req.path_params.get("id"), summary=req.flag("summary")))

    def delete(req: RestRequest) -> RestResponse:
        store.delete(req.path_params["id"])
        return RestResponse(_ACK)

    def simulate(req: RestRequest) -> RestResponse:
        return RestResponse(store.simulate(req.json(required=True), req.path_params.get("id"),
                                           verbose=req.flag("verbose")))

    router.add("PUT", "/_ingest/pipeline/{id}", put, "master_timeout timeout if_version")
    router.add("GET", "/_ingest/pipeline", get, "master_timeout summary")
    router.add("GET", "/_ingest/pipeline/{id}", get, "master_timeout summary")
    router.add("DELETE", "/_ingest/pipeline/{id}", delete, "master_timeout timeout")
    router.add("GET POST", "/_ingest/pipeline/_simulate", simulate, "verbose")
    router.add("GET POST", "/_ingest/pipeline/{id}/_simulate", simulate, "verbose")
