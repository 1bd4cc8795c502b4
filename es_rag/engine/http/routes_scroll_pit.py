"""Scroll and point-in-time routes: `_search/scroll` (next page, clear) and `_pit` (open, close)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ActionRequestValidation, ParsingError
from ..search.pit import PointsInTime
from ..search.scroll import Scrolls
from ..security.service import Security
from .rest import RestRequest, RestResponse, Router

# clearing `_all` scrolls (every user's) is a cluster privilege in Elasticsearch
CLEAR_ALL_SCROLLS = "cluster:admin/indices/scroll/clear_all"
_OPEN_PIT_PARAMS = ("keep_alive ignore_unavailable expand_wildcards allow_no_indices preference "
                    "routing allow_partial_search_results max_concurrent_shard_requests")


def _scroll_body(req: RestRequest) -> dict[str, Any]:
    body = req.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ParsingError("Unknown key for a VALUE_STRING in [scroll_id].")
    for key in body:
        if key not in ("scroll_id", "scroll"):
            raise ParsingError(f"Unknown parameter [{key}] in request body or parameter is of "
                               f"the wrong type[{type(body[key]).__name__}] ")
    return body


def _freed(result: dict[str, Any]) -> RestResponse:
    """A clear-scroll / close-PIT answer: 404 when nothing was freed (`ClearScrollResponse`)."""
    return RestResponse(result, 200 if result["num_freed"] else 404)


@dataclass(frozen=True)
class ReaderServices:
    """What scroll and point-in-time routes use (`security` None when security is off)."""

    scrolls: Scrolls
    pits: PointsInTime
    security: Security | None


def register(router: Router, services: ReaderServices) -> None:
    """Add the scroll and point-in-time routes."""
    scrolls, pits, security = services.scrolls, services.pits, services.security

    def scroll(req: RestRequest) -> RestResponse:
        body = _scroll_body(req)
        scroll_id = body.get("scroll_id") or req.path_params.get("id") or \
            req.params.get("scroll_id")
        if not scroll_id:
            raise ActionRequestValidation("Validation Failed: 1: scrollId is missing;")
        params = dict(req.params)
        if "scroll" in body:
            params["scroll"] = str(body["scroll"])
        return RestResponse(scrolls.next_page(str(scroll_id), params))

    def clear_scroll(req: RestRequest) -> RestResponse:
        body = _scroll_body(req)
        ids: Any = body.get("scroll_id")
        if ids is None:
            listed = req.path_params.get("id") or req.params.get("scroll_id") or ""
            ids = [i for i in listed.split(",") if i]
        ids = [ids] if isinstance(ids, str) else list(ids)
        if not ids:
            raise ActionRequestValidation("Validation Failed: 1: no scroll ids specified;")
        user = req.scope.user
        if "_all" in ids and security is not None and user is not None:
            security.authorize(user, CLEAR_ALL_SCROLLS)
        return _freed(scrolls.clear([str(i) for i in ids]))

    def open_pit(req: RestRequest) -> RestResponse:
        return RestResponse(pits.open(req.path_params["index"], req.params,
                                      read_scope=req.scope))

    def close_pit(req: RestRequest) -> RestResponse:
        return _freed(pits.close(req.json()))

    for path in ("/_search/scroll", "/_search/scroll/{id}"):
        router.add("GET POST", path, scroll, "scroll scroll_id rest_total_hits_as_int")
        router.add("DELETE", path, clear_scroll, "scroll_id")
    router.add("POST", "/{index}/_pit", open_pit, _OPEN_PIT_PARAMS)
    router.add("DELETE", "/_pit", close_pit)
