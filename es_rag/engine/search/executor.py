"""Runs one search over its context: the query phase, then the fetch phase of the page, then
the inner-hits searches of collapsed hits (Elasticsearch's `ExpandSearchPhase`)."""

from __future__ import annotations

import time
from typing import Any

from ..errors import EngineError
from ..query.base import QueryNode
from ..query.knn import KnnSpec
from .aggs import validate_aggs
from .collapse import CollapseSpec, group_filter
from .context import SearchContext
from .fetch_phase import FetchPhase
from .profile import SearchProfiler
from .query_phase import QueryPhase
from .request import parse_search
from .retrievers import retriever_query
from .scope import Hit
from .shard_failures import PartialShardsFailure, failed_scope, shard_failure, shards_section
from .suggest import run_suggest


class SearchExecutor:
    """One search: its phases over a `SearchContext`, and the response body."""

    def __init__(self, context: SearchContext) -> None:
        self.context = context
        if context.req.aggs is not None:
            validate_aggs(context.req.aggs)
        if context.req.profile and context.profiler is None:
            context.profiler = SearchProfiler(
                context.scopes, context.node_id,
                context.req.query or retriever_query(context.req.retriever),
                knn=bool(context.req.knn))

    def execute(self) -> dict[str, Any]:
        """The search response body. An error of one index's part of a search over several
        fails that index's shard: the search runs again without it and lists the failure
        (shard_failures); the error of the last index left is the search's."""
        while True:
            try:
                body = self._execute()
                break
            except EngineError as err:
                context = self.context
                num = failed_scope(err, context.scopes)
                if num is None or len(context.scopes) == 1:
                    raise
                context.shard_failures.append(shard_failure(err, context.scopes[num].name,
                                                            context.node_id))
                context.failure_statuses.append(err.status)
                self.context = context.without(num)
        if self.context.shard_failures and not self.context.allow_partial:
            raise PartialShardsFailure(self.context.shard_failures,
                                       self.context.failure_statuses)
        return body

    def _execute(self) -> dict[str, Any]:
        started = time.perf_counter()
        context, req = self.context, self.context.req
        query_phase = QueryPhase(context)
        result = query_phase.run()
        body: dict[str, Any] = {"took": 0, "timed_out": False}
        if context.terminated_early is not None:
            body["terminated_early"] = context.terminated_early
        body["_shards"] = shards_section(context.total_shards, context.shard_failures)
        body["hits"] = {}
        if result.total is not None:
            body["hits"]["total"] = result.total
        body["hits"]["max_score"] = result.max_score
        body["hits"]["hits"] = self.render(result.page, result.sort_values, result.show_score)
        if req.rrf is not None:
            for rank, hit in enumerate(body["hits"]["hits"], start=req.from_ + 1):
                hit["_rank"] = rank
        if req.aggs is not None:
            body["aggregations"] = query_phase.aggregations(result.aggs_queries)
        if req.suggest:
            body["suggest"] = run_suggest([s.ctx for s in context.scopes], req.suggest)
        if context.profiler is not None:
            context.profiler.sorted = result.sort_values is not None
            body["profile"] = context.profiler.render(req.aggs)
        body["took"] = int((time.perf_counter() - started) * 1000)
        return body

    def render(self, page: list[Hit], sort_values: list[list[Any]] | None,
               show_score: bool) -> list[dict[str, Any]]:
        """The fetch phase of `page` (a scroll renders each of its pages with it)."""
        return FetchPhase(self.context, self.inner_hits).render(page, sort_values, show_score)

    def inner_hits(self, query: QueryNode | None, knn: list[KnnSpec], filters: list[QueryNode],
                   spec: CollapseSpec, value: Any) -> dict[str, Any]:
        """`inner_hits` of one collapsed hit: each named inner search over its group."""
        out: dict[str, Any] = {}
        for inner in spec.inner_hits:
            body = {k: v for k, v in inner.items() if k not in ("name", "ignore_unmapped")}
            body.setdefault("size", 3)
            req = parse_search(body, {})
            req.query = query
            req.knn = knn
            req.track_total_hits = True
            req.total_as_int = self.context.req.total_as_int
            sub = SearchExecutor(self.context.child(
                req, [*filters, group_filter(spec.field, value)]))
            result = sub.execute()
            hits = result["hits"]
            out[inner["name"]] = {"hits": {"total": hits["total"],
                                           "max_score": hits["max_score"],
                                           "hits": hits["hits"]}}
        return out
