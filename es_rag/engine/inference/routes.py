"""The `_inference` REST routes: create, get, update, delete endpoints and run inference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.rest import RestRequest, RestResponse, Router

if TYPE_CHECKING:
    from .service import InferenceService

_ROOT = "/_inference"


def register(router: Router, inference: InferenceService) -> None:
    """Add the `_inference` routes served by `inference`."""

    def task(req: RestRequest) -> str | None:
        return req.path_params.get("task_type")

    def put(req: RestRequest) -> RestResponse:
        return RestResponse(inference.put(task(req), req.path_params["inference_id"],
                                          req.json(required=True)))

    def get(req: RestRequest) -> RestResponse:
        return RestResponse(inference.get(task(req), req.path_params.get("inference_id")))

    def delete(req: RestRequest) -> RestResponse:
        return RestResponse(inference.delete(task(req), req.path_params["inference_id"],
                                             force=req.flag("force"),
                                             dry_run=req.flag("dry_run")))

    def update(req: RestRequest) -> RestResponse:
        return RestResponse(inference.update(task(req), req.path_params["inference_id"],
                                             req.json(required=True)))

    def infer(req: RestRequest) -> RestResponse:
        return RestResponse(inference.infer(task(req), req.path_params["inference_id"],
                                            req.json(required=True)))

    for prefix in (_ROOT, _ROOT + "/{task_type}"):
        router.add("PUT", prefix + "/{inference_id}/_update", update)
        router.add("PUT", prefix + "/{inference_id}", put, "timeout")
        router.add("GET", prefix + "/{inference_id}", get)
        router.add("DELETE", prefix + "/{inference_id}", delete, "dry_run force")
        router.add("POST", prefix + "/{inference_id}", infer, "timeout")
    router.add("GET", _ROOT, get)
    router.add("GET", _ROOT + "/_all", get)
    router.add("GET", _ROOT + "/{task_type}/_all", get)
