"""The `_rank_eval` route: rated searches run through the search service and scored."""

from __future__ import annotations

from typing import Any

from ..rank_eval import evaluate_rank_eval
from ..scripts import render_search_template
from .rest import RestRequest, RestResponse, Router
from .routes_templates import TemplateServices

_PARAMS = "allow_no_indices expand_wildcards ignore_unavailable search_type"


def register(router: Router, services: TemplateServices) -> None:
    """Add the `_rank_eval` routes (rated searches, templates among them)."""
    service, scripts = services.search, services.scripts

    def rank_eval(req: RestRequest) -> RestResponse:
        params = {k: v for k, v in req.params.items() if k != "search_type"}

        def run_search(indices: str | list[str], body: dict[str, Any]) -> list[dict[str, Any]]:
            target = ",".join(indices) if isinstance(indices, list) else indices
            return service.search(target, body, params, read_scope=req.scope)["hits"]["hits"]

        def render(script: dict[str, Any], template_params: dict[str, Any]) -> dict[str, Any]:
            return render_search_template({**script, "params": template_params}, scripts)

        return RestResponse(evaluate_rank_eval(req.json(required=True), run_search,
                                               indices=req.path_params.get("index", "_all"),
                                               render_template=render))

    router.add("GET POST", "/_rank_eval", rank_eval, _PARAMS)
    router.add("GET POST", "/{index}/_rank_eval", rank_eval, _PARAMS)
