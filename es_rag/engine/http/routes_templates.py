"""Stored scripts and search templates: `_scripts`, `_render/template`, `_search/template`,
`_msearch/template`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EngineError
from ..scripts import ScriptStore, render_search_template, search_body_from_template
from ..search.service import SearchService, parse_msearch
from .rest import RestRequest, RestResponse, Router
from .routes_search import SEARCH_PARAMS

_ACK = {"acknowledged": True}


@dataclass(frozen=True)
class TemplateServices:
    """What template routes use: the stored scripts and the search service they feed."""

    scripts: ScriptStore
    search: SearchService


def register(router: Router, services: TemplateServices) -> None:
    """Add the stored script and search template routes."""
    store, service = services.scripts, services.search

    def put(req: RestRequest) -> RestResponse:
        store.put(req.path_params["id"], req.json(required=True),
                  req.path_params.get("context"))
        return RestResponse(_ACK)

    def get(req: RestRequest) -> RestResponse:
        return RestResponse(store.get(req.path_params["id"]))

    def delete(req: RestRequest) -> RestResponse:
        store.delete(req.path_params["id"])
        return RestResponse(_ACK)

    def render(req: RestRequest) -> RestResponse:
        output = render_search_template(req.json() or {}, store, req.path_params.get("id"))
        return RestResponse({"template_output": output})

    def search_template(req: RestRequest) -> RestResponse:
        body = search_body_from_template(req.json(required=True), store)
        if req.params.get("profile") in ("", "true"):  # the URL flag as the body's
            body["profile"] = True
        return RestResponse(service.search(req.path_params.get("index"), body, req.params,
                                           read_scope=req.scope))

    def msearch_template(req: RestRequest) -> RestResponse:
        pairs: list[tuple[dict, dict | EngineError]] = []
        for header, body in parse_msearch(req.body):
            try:
                pairs.append((header, search_body_from_template(body, store)))
            except EngineError as err:
                pairs.append((header, err))
        return RestResponse(service.run_msearch(req.path_params.get("index"), pairs,
                                                req.params, read_scope=req.scope))

    for path in ("/_scripts/{id}", "/_scripts/{id}/{context}"):
        router.add("PUT POST", path, put, "master_timeout timeout context")
    router.add("GET", "/_scripts/{id}", get, "master_timeout")
    router.add("DELETE", "/_scripts/{id}", delete, "master_timeout timeout")
    router.add("GET POST", "/_render/template", render)
    router.add("GET POST", "/_render/template/{id}", render)
    for prefix in ("", "/{index}"):
        router.add("GET POST", f"{prefix}/_search/template", search_template,
                   SEARCH_PARAMS + " profile explain")
        router.add("GET POST", f"{prefix}/_msearch/template", msearch_template,
                   "ccs_minimize_roundtrips max_concurrent_searches rest_total_hits_as_int "
                   "search_type typed_keys")
