"""The query phase of a search: which documents match, ranked (query, knn, hybrid,
retrievers, RRF), sorted or collapsed, counted, and the page to fetch.

As Elasticsearch's `QueryPhase`, it reads the `SearchContext` (request and indices) and records
there what the fetch phase needs (collapse groups, retrievers' ranked lists for explain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tantivy

from ..errors import BadRequest, EngineError
from ..index.fulltext import KEY
from ..query.base import QueryNode, boosted
from ..query.knn import KnnSpec
from . import linear, multi_field, rerank_retriever
from .aggs import aggregate, check_buckets, run_aggs
from .collapse import CollapseSpec, check_collapse, collapse_hits
from .context import SearchContext
from .pipeline_aggs import apply_pipelines, is_pipeline
from .profile import profiling
from .request import SortKey, parse_sort
from .rescore import check_windows, rescore, rescore_window
from .retrievers import (
    Retriever,
    check_nested_inner_hits,
    one_standard_and_knn,
    rank_rrf,
    retriever_queries,
    rrf_sum,
    with_retriever_filters,
)
from .scope import Hit, keys_of, with_filters
from .shard_failures import RetrieversFailure, failed_scope
from .sorting import sort_hits


@dataclass
class QueryResult:
    """What the query phase found: the page to fetch (and its sort values), the total as the
    response shows it (None: not tracked), the best score, and what aggregations run over."""

    page: list[Hit]
    sort_values: list[list[Any]] | None
    show_score: bool
    total: Any
    max_score: float | None
    aggs_queries: list[tantivy.Query]


class QueryPhase:
    """Runs the query phase of one search over its context."""

    def __init__(self, context: SearchContext) -> None:
        self.context = context
        self.req = context.req
        self.scopes = context.scopes

    def terminate(self, queries: list[tantivy.Query], limit: int) -> list[tantivy.Query]:
        """`terminate_after`: each index's query restricted to its first `limit` matches in
        index order (Lucene collects a shard's documents in index order and stops there)."""
        out = []
        terminated = False
        for scope, query in zip(self.scopes, queries, strict=True):
            searcher = scope.ctx.shard.fulltext.searcher
            result = searcher.search(query, limit + 1, count=False, order_by_field=KEY,
                                     order=tantivy.Order.Asc)
            keys = [int(k) for k, _ in result.hits]
            terminated = terminated or len(keys) > limit
            out.append(with_filters(query, [tantivy.Query.term_set_query(
                scope.ctx.schema, KEY, keys[:limit])]))
        self.context.terminated_early = terminated
        return out

    def collapse(self, hits: list[Hit], sort_values: list[list[Any]] | None,
                 spec: CollapseSpec, groups: int
                 ) -> tuple[list[Hit], list[list[Any]] | None]:
        """The first hit of each group, in rank order; group values kept for rendering."""
        check_collapse(self.scopes, spec)
        chosen, values = collapse_hits(self.scopes, hits, spec, groups)
        self.context.top_score = max((h[0] for h in hits), default=None)  # over every match
        for pos, value in zip(chosen, values, strict=True):
            self.context.collapsed[hits[pos][1:]] = value
        return ([hits[p] for p in chosen],
                None if sort_values is None else [sort_values[p] for p in chosen])

    def _knn_query(self, num: int, hits: list[Hit]) -> tantivy.Query | None:
        schema = self.scopes[num].ctx.schema
        mine = [(score, key) for score, n, key in hits if n == num]
        if not mine:
            return None
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.const_score_query(
                tantivy.Query.term_query(schema, KEY, key), score)) for score, key in mine])

    def scope_query(self, num: int, query: QueryNode | None, knn: list[KnnSpec],
                    filters: list[QueryNode] = ()) -> tantivy.Query:
        """The full tantivy query for one index: query OR knn matches (scores summed)."""
        with profiling(self.context.profiler, num, "compile"):
            return self._scope_query(num, query, knn, filters)

    def _scope_query(self, num: int, query: QueryNode | None, knn: list[KnnSpec],
                     filters: list[QueryNode]) -> tantivy.Query:
        scope = self.scopes[num]
        parts = []
        if query is not None:
            parts.append(query.compile(scope.ctx))
        for spec in knn:
            q = self._knn_query(num, self.context.knn_hits(spec))
            if q is not None:
                parts.append(q)
        if query is None and not knn:
            parts.append(tantivy.Query.const_score_query(tantivy.Query.all_query(), 1.0))
        if not parts:
            combined = tantivy.Query.empty_query()
        elif len(parts) == 1:
            combined = parts[0]
        else:
            combined = tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in parts])
        combined = boosted(combined, self.context.index_boosts.get(scope.name, 1.0))
        flts = [f.compile(scope.ctx) for f in [*filters, *self.context.extra_filters]]
        if scope.alias_filter is not None:
            flts.append(scope.alias_filter)
        return with_filters(combined, flts)

    def top(self, queries: list[tantivy.Query], limit: int, count: bool,
            min_score: float | None = None) -> tuple[list[Hit], int]:
        """Best `limit` hits over all indices, and the total count of matches."""
        hits: list[Hit] = []
        total = 0
        profiler = self.context.profiler
        for num, query in enumerate(queries):
            with profiling(profiler, num, "search"):
                found, matches = self._top_of(num, query, limit, count, min_score)
            hits += found
            total += matches
            if profiler is not None:
                profiler.found(num, matches, len(found))
        self.context.rank(hits)
        return hits[:limit] if min_score is None else hits, total

    def _top_of(self, num: int, query: tantivy.Query, limit: int, count: bool,
                min_score: float | None) -> tuple[list[Hit], int]:
        """Best hits of one index and its count of matches (those scoring `min_score`)."""
        scope = self.scopes[num]
        searcher = scope.ctx.shard.fulltext.searcher
        n = scope.ctx.shard.fulltext.count(query) if (min_score is not None or
                                                       (count and limit > 10000)) else 0
        want = n if min_score is not None else min(limit, 10000) if not count else \
            min(limit, n)
        total = n if min_score is None else 0
        if count and min_score is None and limit <= 10000:
            # one pass gives the count and the top hits
            result = searcher.search(query, max(limit, 1), count=True)
            total += result.count
        elif want == 0:
            return [], total
        else:
            result = searcher.search(query, want, count=False)
        hits: list[Hit] = []
        for score, key in keys_of(scope, result):
            if min_score is None or score >= min_score:
                hits.append((score, num, key))
                total += min_score is not None
        return hits, total

    def retrieve(self, node: Retriever, window: int) -> tuple[list[Hit], list[tantivy.Query]]:
        """Ranked hits of a retriever and, per index, a query matching everything it matched."""
        hits, queries = self._retrieve(node, window)
        self.context.retrieved[id(node)] = hits
        return hits, queries

    def _retrieve(self, node: Retriever, window: int) -> tuple[list[Hit], list[tantivy.Query]]:
        if node.kind == "standard":
            queries = [self.scope_query(i, node.query, [], node.filters)
                       for i in range(len(self.scopes))]
            if node.terminate_after:
                queries = self.terminate(queries, node.terminate_after)
            if node.sort or node.search_after or node.collapse:
                hits, total = self.top(queries, 10 ** 9, count=True, min_score=node.min_score)
                if node.sort or node.search_after:
                    hits = sort_hits(self.context, hits, parse_sort(node.sort) or _score_sort(),
                                     node.search_after)[0]
                if node.collapse:
                    hits = self.collapse(hits, None, node.collapse, window)[0]
            else:
                hits, total = self.top(queries, window, count=self.context.count_standard,
                                       min_score=node.min_score)
            self.context.standard_totals[id(node)] = total
            return hits[:window], queries
        if node.kind == "knn":
            hits = self.context.knn_hits(node.knn)
            queries = [self._knn_query(i, hits) or tantivy.Query.empty_query()
                       for i in range(len(self.scopes))]
            return hits[:window], queries
        contexts = [s.ctx for s in self.scopes]
        if node.rerank is not None:
            return rerank_retriever.retrieve(node, window, self.retrieve, contexts,
                                             with_retriever_filters)
        if node.multi_field is not None:
            return self._retrieve(multi_field.expand(contexts, node), window)
        child_window = node.rank_window_size or window
        fused: dict[tuple[int, int], float] = {}
        unions: list[list[tantivy.Query]] = [[] for _ in self.scopes]
        ranked_lists = []
        failed: list[tuple[str, EngineError]] = []
        for child, weight in node.children:
            try:
                ranked, queries = self.retrieve(
                    with_retriever_filters(child, node.filters) if node.filters else child,
                    child_window)
            except EngineError as err:
                if len(self.scopes) > 1 and failed_scope(err, self.scopes) is not None:
                    raise  # a shard failure of one index (the search goes on without it)
                failed.append((child.kind, err))
                continue
            self.context.retrieved[id(child)] = ranked
            ranked_lists.append(ranked)
            for rank, (_, num, key) in enumerate(ranked, start=1):
                fused[(num, key)] = rrf_sum(fused.get((num, key), 0.0), weight, rank,
                                            node.rank_constant)
            for i, q in enumerate(queries):
                unions[i].append(q)
        if failed:
            raise RetrieversFailure(node.kind, failed, self.context.node_id)
        union_queries = [tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in qs])
                         if len(qs) > 1 else qs[0] for qs in unions]
        if node.kind == "linear":
            self.context.retrieved_lists[id(node)] = ranked_lists
            return linear.fuse(node, ranked_lists, self.context.rank), union_queries
        hits = [(score, num, key) for (num, key), score in fused.items()]
        self.context.rank(hits)
        return hits[:child_window], union_queries

    # -- the phase --------------------------------------------------------------------------
    def run(self) -> QueryResult:
        """Rank, count and page the matches of the request."""
        req = self.req
        context = self.context
        count = req.track_total_hits is not False
        aggs_queries: list[tantivy.Query] | None = None
        sorted_by_fields = bool(req.sort) and not (len(req.sort) == 1 and
                                                   req.sort[0].field == "_score" and
                                                   req.sort[0].order == "desc")
        sort_values: list[list[Any]] | None = None
        capped = False
        if req.retriever is not None or req.rrf is not None:
            node = context.top_retriever = req.retriever or rank_rrf(
                req.rrf or {}, req.query, req.sub_searches, req.knn, req.size)
            compound = node.kind in ("rrf", "linear", rerank_retriever.FEATURE)
            window = node.rank_window_size if compound and node.rank_window_size \
                else max(req.size + req.from_, 10)
            if compound and node.rank_window_size and node.rank_window_size < req.size:
                raise BadRequest(f"[{'rank' if req.rrf else node.kind}] requires "
                                 f"[rank_window_size: "
                                 f"{node.rank_window_size}] be greater than or equal to [size: "
                                 f"{req.size}]")
            check_nested_inner_hits(node)
            if node.kind == "standard" and node.collapse is not None:
                context.collapse_view = (node.collapse, node.query, [], node.filters)
            capped = count and self._at_least(retriever_queries(node)) > self._cap()
            context.count_standard = count and not capped and one_standard_and_knn(node)
            hits, queries = self.retrieve(node, window)
            aggs_queries = queries
            if capped:
                total = self._cap()
            elif context.count_standard:
                total = self._hybrid_total(node)
            elif node.min_score is not None and node.kind != "standard":
                total = len(hits)
            else:
                total = sum(s.ctx.shard.fulltext.count(q)
                            for s, q in zip(self.scopes, queries, strict=True)) if count else 0
            page = hits[req.from_:req.from_ + req.size]
        else:
            queries = [self.scope_query(i, req.query, req.knn) for i in range(len(self.scopes))]
            if req.terminate_after:
                queries = self.terminate(queries, req.terminate_after)
            aggs_queries = queries
            if req.post_filter is not None:
                queries = [with_filters(q, [req.post_filter.compile(s.ctx)])
                           for s, q in zip(self.scopes, queries, strict=True)]
            if sorted_by_fields or req.search_after is not None or req.collapse or \
                    context.keep_all:
                hits, total = self.top(queries, 10 ** 9, count=True, min_score=req.min_score)
                if sorted_by_fields or req.search_after is not None:
                    hits, sort_values = sort_hits(context, hits, req.sort or _score_sort(),
                                                  req.search_after)
                if req.collapse:
                    hits, sort_values = self.collapse(hits, sort_values, req.collapse,
                                                      req.from_ + req.size)
                    context.collapse_view = (req.collapse, req.query, req.knn,
                                             context.extra_filters)
            else:
                capped = (count and req.post_filter is None and req.min_score is None and
                          not req.terminate_after and
                          self._at_least([req.query]) > self._cap())
                check_windows(self.scopes, req.rescore)
                hits, total = self.top(queries, max(req.from_ + req.size,
                                                    rescore_window(req.rescore)),
                                       count and not capped, min_score=req.min_score)
                hits = rescore(self.scopes, hits, req.rescore, context.rank)
                if capped:
                    total = self._cap()
            page = hits[req.from_:req.from_ + req.size]
            if context.keep_all:
                context.ranked = (hits, sort_values, not sorted_by_fields or req.track_scores)
            if sort_values is not None:
                sort_values = sort_values[req.from_:req.from_ + req.size]
        shown_total: Any = None
        if count:
            shown_total = self._total(total, capped)
        elif req.total_as_int:
            shown_total = -1
        show_score = not sorted_by_fields or req.track_scores
        max_score = (context.top_score if context.top_score is not None else max(
            (h[0] for h in hits), default=None)) if show_score else None
        return QueryResult(page, sort_values, show_score, shown_total, max_score,
                           aggs_queries or [])

    def aggregations(self, queries: list[tantivy.Query]) -> dict[str, Any]:
        """The request's aggregations over the matches of `queries` (one per index)."""
        return self._aggs(queries)

    def _hybrid_total(self, node: Retriever) -> int:
        """Matches of one standard retriever plus the kNN hits it does not match, without
        counting the union again."""
        standard = next(c for c, _ in node.children if c.kind == "standard")
        total = self.context.standard_totals[id(standard)]
        for num, scope in enumerate(self.scopes):
            keys = {key for child, _ in node.children if child.kind == "knn"
                    for _, n, key in self.context.knn_hits(child.knn) if n == num}
            if not keys:
                continue
            only = tantivy.Query.term_set_query(scope.ctx.schema, KEY, sorted(keys))
            query = with_filters(self.scope_query(num, standard.query, [], standard.filters),
                                 [only])
            total += len(keys) - scope.ctx.shard.fulltext.count(query)
        return total

    def _cap(self) -> int:
        """The count above which the total is reported as a lower bound (`gte`)."""
        tth = self.req.track_total_hits
        if tth is True or tth is False or self.req.total_as_int or int(tth) < 0:
            return 2 ** 62
        return int(tth)

    def _at_least(self, nodes: list[QueryNode | None]) -> int:
        """A lower bound of the matches of any of `nodes`, over every index (no counting)."""
        total = 0
        for scope in self.scopes:
            if scope.alias_filter is not None:
                return 0
            ctx = scope.ctx
            total += max((n.min_matches(ctx) if n is not None else
                          ctx.shard.fulltext.searcher.num_docs for n in nodes), default=0)
        return total

    def _total(self, total: int, capped: bool = False) -> Any:
        tth = self.req.track_total_hits
        if capped:
            return {"value": total, "relation": "gte"}
        if self.req.total_as_int:
            return total
        if tth is True or (isinstance(tth, int) and tth < 0) or total <= int(tth):
            return {"value": total, "relation": "eq"}
        return {"value": int(tth), "relation": "gte"}

    def _aggs(self, queries: list[tantivy.Query]) -> dict[str, Any]:
        assert self.req.aggs is not None
        if not self.scopes:
            return {}
        parts = [(s.ctx, q) for s, q in zip(self.scopes, queries, strict=True)]
        if self.context.profiler is not None:
            return check_buckets(self.context.profiler.aggregate(
                lambda aggs: run_aggs(parts, aggs), self.req.aggs, is_pipeline,
                apply_pipelines))
        return aggregate(parts, self.req.aggs)


def _score_sort() -> list[Any]:
    return [SortKey("_score", "desc")]
