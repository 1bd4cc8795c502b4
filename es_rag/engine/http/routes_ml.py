"""The `_ml` REST routes: trained models, their definition and vocabulary, deployments, infer."""

from __future__ import annotations

from typing import Any

from ..ml import MlService
from ..node import VERSION
from .rest import RestRequest, RestResponse, Router

_ACK = {"acknowledged": True}
_MODELS = "/_ml/trained_models"
_GET_PARAMS = ("allow_no_match decompress_definition exclude_generated from include "
               "include_model_definition size tags")
_START_PARAMS = ("cache_size deployment_id number_of_allocations priority queue_capacity "
                 "threads_per_allocation timeout wait_for")
_DEPRECATED_INFER = (f'299 Elasticsearch-{VERSION} "[POST /_ml/trained_models/{{model_id}}/'
                     'deployment/_infer] is deprecated! Use [POST /_ml/trained_models/'
                     '{model_id}/_infer] instead."')


def register(router: Router, ml: MlService) -> None:
    """Add the `_ml` routes served by `ml`."""
    def put_model(req: RestRequest) -> RestResponse:
        return RestResponse(ml.put_model(req.path_params["model_id"], req.json(required=True)))

    def get_models(req: RestRequest) -> RestResponse:
        return RestResponse(ml.get_models(req.path_params.get("model_id"), req.params))

    def stats(req: RestRequest) -> RestResponse:
        return RestResponse(ml.stats(req.path_params.get("model_id"), req.params))

    def delete(req: RestRequest) -> RestResponse:
        ml.delete(req.path_params["model_id"], req.flag("force"))
        return RestResponse(_ACK)

    def vocabulary(req: RestRequest) -> RestResponse:
        ml.put_vocabulary(req.path_params["model_id"], req.json(required=True))
        return RestResponse(_ACK)

    def part(req: RestRequest) -> RestResponse:
        ml.put_part(req.path_params["model_id"], req.path_params["part"],
                    req.json(required=True))
        return RestResponse(_ACK)

    def start(req: RestRequest) -> RestResponse:
        body: dict[str, Any] = req.json() or {}
        params: dict[str, Any] = {**req.params}
        allocations = body.get("adaptive_allocations")
        if isinstance(allocations, dict) and allocations.get("enabled"):
            params.setdefault("number_of_allocations",
                              allocations.get("min_number_of_allocations") or 1)
        return RestResponse(ml.start(req.path_params["model_id"], params))

    def stop(req: RestRequest) -> RestResponse:
        body: dict[str, Any] = req.json() or {}
        allow = body.get("allow_no_match", req.flag("allow_no_match", True))
        force = body.get("force", req.flag("force"))
        ml.stop(req.path_params.get("model_id", "_all"), bool(allow), bool(force))
        return RestResponse({"stopped": True})

    def infer(req: RestRequest) -> RestResponse:
        return RestResponse(ml.infer(req.path_params["model_id"], req.json(required=True)))

    def infer_deployment(req: RestRequest) -> RestResponse:
        body = ml.infer(req.path_params["model_id"], req.json(required=True),
                        deployment_route=True)
        return RestResponse(body, headers={"Warning": _DEPRECATED_INFER})

    def info(req: RestRequest) -> RestResponse:
        return RestResponse(ml.info())

    one = _MODELS + "/{model_id}"
    router.add("PUT", one, put_model, "defer_definition_decompression wait_for_completion")
    router.add("GET", _MODELS, get_models, _GET_PARAMS)
    router.add("GET", one, get_models, _GET_PARAMS)
    router.add("GET", _MODELS + "/_all", get_models, _GET_PARAMS)
    router.add("GET", _MODELS + "/_stats", stats, "allow_no_match from size")
    router.add("GET", one + "/_stats", stats, "allow_no_match from size")
    router.add("GET", _MODELS + "/_all/_stats", stats, "allow_no_match from size")
    router.add("DELETE", one, delete, "force timeout")
    router.add("PUT", one + "/vocabulary", vocabulary)
    router.add("PUT", one + "/definition/{part}", part)
    router.add("POST", one + "/deployment/_start", start, _START_PARAMS)
    router.add("POST", one + "/deployment/_stop", stop, "allow_no_match force")
    router.add("POST", _MODELS + "/_all/deployment/_stop", stop, "allow_no_match force")
    router.add("POST", one + "/_infer", infer, "timeout")
    router.add("POST", one + "/deployment/_infer", infer_deployment, "timeout")
    router.add("GET", "/_ml/info", info)
