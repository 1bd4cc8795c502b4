"""Scroll: a search ranked once over a pinned snapshot, then read page by page by its id.

`_search?scroll=1m` opens a reader context over the indices the request's `ReadScope` may read,
with its document-level security attached to them (`SearchService.targets` at open, the one place
DLS applies to a scroll): the ranked hits are computed then, so every later page continues with
the opener's scope (as Elasticsearch keeps the opener's searcher), and only the opener may read
it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import ActionRequestValidation
from .context import SearchContext
from .executor import SearchExecutor
from .reader_context import ReaderContext, ReaderContexts
from .request import SearchRequest
from .shard_failures import shards_section
from .slice import SliceSpec, slice_filter

if TYPE_CHECKING:
    from ..security.read_scope import ReadScope
    from .scope import ReadTargets


def validate_scroll(body: dict[str, Any], req: SearchRequest, params: dict[str, str]) -> None:
    """`SearchRequest.validate`'s checks of a scroll search."""
    errors = []
    tth = body.get("track_total_hits", params.get("track_total_hits"))
    if tth is not None and str(tth).lower() != "true" and str(tth) != "-1":
        errors.append("disabling [track_total_hits] is not allowed in a scroll context")
    if req.from_ > 0:
        errors.append("using [from] is not allowed in a scroll context")
    if req.size == 0:
        errors.append("[size] cannot be [0] in a scroll context")
    if req.search_after is not None:
        errors.append("[search_after] cannot be used in a scroll context")
    if req.collapse is not None:
        errors.append("cannot use `collapse` in a scroll context")
    if params.get("request_cache") == "true":
        errors.append("[request_cache] cannot be used in a scroll context")
    if req.rrf is not None or req.retriever is not None:
        errors.append("[rank] cannot be used in a scroll context")
    if "pit" in body:
        errors.append("using [point in time] is not allowed in a scroll context")
    if errors:
        raise ActionRequestValidation("Validation Failed: " + "".join(
            f"{n}: {e};" for n, e in enumerate(errors, start=1)))
    req.track_total_hits = True


class Scrolls:
    """Opens scrolls from searches and serves their next pages."""

    def __init__(self, service: ReadTargets, contexts: ReaderContexts) -> None:
        self.service = service
        self.contexts = contexts

    def open(self, index: str | None, body: dict[str, Any], req: SearchRequest,
             params: dict[str, str], sliced: SliceSpec | None = None, *,
             read_scope: ReadScope) -> dict[str, Any]:
        """The first page of a scroll search, with its `_scroll_id` (the scope pinned)."""
        validate_scroll(body, req, params)
        keep_alive = self.contexts.keep_alive("scroll", params["scroll"])
        targets = self.service.targets(index, params, read_scope)  # the opener's indices, DLS
        context = self.contexts.open("scroll", targets, keep_alive)
        search = SearchContext(req, context.scopes(targets))
        search.keep_all = True
        if sliced is not None:
            search.extra_filters = [slice_filter(search.scopes, sliced)]
        search.node_id = self.service.node.node_id
        search.allow_partial = params.get("allow_partial_search_results") != "false"
        executor = SearchExecutor(search)
        page = executor.execute()
        assert executor.context.ranked is not None
        context.state.update(executor=executor, position=req.size,
                             total=_total_value(page["hits"].get("total")))
        return {"_scroll_id": context.id, **page}

    def next_page(self, scroll_id: str, params: dict[str, str]) -> dict[str, Any]:
        """The next page of a scroll (its keep-alive renewed, or changed by `scroll`)."""
        started = time.perf_counter()
        keep_alive = self.contexts.keep_alive("scroll", params["scroll"]) \
            if params.get("scroll") else None
        context = self.contexts.get(scroll_id, "scroll", keep_alive)
        return _page(context, params.get("rest_total_hits_as_int") == "true", started)

    def clear(self, scroll_ids: list[str]) -> dict[str, Any]:
        """`DELETE _search/scroll`: free the given scrolls (`_all`: every one of the user)."""
        freed = self.contexts.free(None if "_all" in scroll_ids else scroll_ids, "scroll")
        return {"succeeded": True, "num_freed": freed}


def _total_value(total: Any) -> int:
    return total["value"] if isinstance(total, dict) else int(total or 0)


def _page(context: ReaderContext, total_as_int: bool, started: float) -> dict[str, Any]:
    executor: SearchExecutor = context.state["executor"]
    search = executor.context
    assert search.ranked is not None
    hits, sort_values, show_score = search.ranked
    size = search.req.size
    start = context.state["position"]
    context.state["position"] = start + size
    page = hits[start:start + size]
    rendered = executor.render(page, sort_values[start:start + size]
                               if sort_values is not None else None, show_score)
    total = context.state["total"]
    return {"_scroll_id": context.id, "took": int((time.perf_counter() - started) * 1000),
            "timed_out": False,
            "_shards": shards_section(search.total_shards, search.shard_failures),
            "hits": {"total": total if total_as_int else {"value": total, "relation": "eq"},
                     "max_score": max((h[0] for h in page), default=None) if show_score
                     else None,
                     "hits": rendered}}
