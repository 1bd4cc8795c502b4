"""Runs a SearchRequest over the resolved indices: query, knn, hybrid and retrievers."""

from __future__ import annotations

import time
from typing import Any

import tantivy

from ..errors import BadRequest
from ..fulltext import KEY
from ..limits import current as current_limits
from ..node import Target
from ..query.base import QueryNode
from ..query.knn import KnnSpec
from ..source_filter import filter_source
from . import linear, multi_field, rerank_retriever
from .aggs import count_buckets, merge_aggs, run_aggs, too_many_buckets, validate_aggs
from .collapse import CollapseSpec, check_collapse, collapse_hits, inner_hits
from .explain import hit_explanation
from .highlight import Highlighter
from .hit_fields import requested_fields, vector_paths
from .knn import knn_search
from .named_queries import matched_queries
from .request import SearchRequest, SortKey
from .retrievers import (
    Retriever,
    check_nested_inner_hits,
    one_standard_and_knn,
    rank_rrf,
    retriever_queries,
    retriever_query,
    with_retriever_filters,
)
from .scope import Hit, Scope, keys_of, make_scopes, with_filters
from .shard_order import shard_of
from .sorting import sort_hits


class SearchExecutor:
    """One search over a list of indices."""

    def __init__(self, targets: list[Target], req: SearchRequest,
                 scopes: list[Scope] | None = None) -> None:
        self.req = req
        self.scopes = make_scopes(targets) if scopes is None else scopes
        self._knn_cache: dict[int, list[Hit]] = {}
        # filters added to the request's query (the group of a collapse's inner hits)
        self.extra_filters: list[QueryNode] = []
        # group value per collapsed hit, and what the rendered hits' inner hits search
        self.collapsed: dict[tuple[int, int], Any] = {}
        self.collapse_view: tuple[CollapseSpec, QueryNode | None, list[KnnSpec],
                                  list[QueryNode]] | None = None
        self.terminated_early: bool | None = None
        self._shard_of: dict[tuple[int, int], int] = {}
        if req.aggs is not None:
            validate_aggs(req.aggs)
        self.highlighter = Highlighter(req.highlight) if req.highlight else None
        self.named_scores = False
        self.count_standard = False
        self.standard_totals: dict[int, int] = {}
        # ranked hits of each retriever, the retriever tree run, the node id (for explain)
        self.retrieved: dict[int, list[Hit]] = {}
        self.retrieved_lists: dict[int, list[list[Hit]]] = {}  # a linear node's children's
        self.top_retriever: Retriever | None = None
        self.node_id = ""
        # a scroll ranks every match once; `ranked` keeps (hits, sort values, show score)
        self.keep_all = False
        self.ranked: tuple[list[Hit], list[list[Any]] | None, bool] | None = None

    @classmethod
    def over(cls, parent: SearchExecutor, req: SearchRequest, filters: list[QueryNode]
             ) -> SearchExecutor:
        """A search of `req` over the parent's indices (and kNN results), with extra filters."""
        child = cls([], req, scopes=parent.scopes)
        child._knn_cache = parent._knn_cache
        child.extra_filters = filters
        return child

    # -- building blocks ------------------------------------------------------------------
    def rank(self, hits: list[Hit]) -> None:
        """Sort hits by score, ties in Elasticsearch's order (index, shard, document)."""
        self.learn_shards(hits)
        hits.sort(key=lambda h: (-h[0], *self.tie(h[1], h[2])))

    def tie(self, num: int, key: int) -> tuple[int, int, int]:
        """The order of a hit among equal sort values: index, shard, then indexing order."""
        return num, self._shard_of.get((num, key), 0), key

    def learn_shards(self, hits: list[Hit]) -> None:
        """The Elasticsearch shard of hits of indices created with several shards."""
        by_scope: dict[int, list[int]] = {}
        for _, num, key in hits:
            if (num, key) not in self._shard_of and self._shards(num) > 1:
                by_scope.setdefault(num, []).append(key)
        for num, keys in by_scope.items():
            shards = self._shards(num)
            docs = self.scopes[num].ctx.shard.store.by_seq_nos(keys)
            for key in keys:
                doc = docs.get(key)
                self._shard_of[(num, key)] = shard_of(doc.id, shards) if doc else 0

    def _shards(self, num: int) -> int:
        return int(self.scopes[num].ctx.settings.get("index.number_of_shards", 1))

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
        self.terminated_early = terminated
        return out

    def collapse(self, hits: list[Hit], sort_values: list[list[Any]] | None,
                 spec: CollapseSpec, groups: int
                 ) -> tuple[list[Hit], list[list[Any]] | None]:
        """The first hit of each group, in rank order; group values kept for rendering."""
        check_collapse(self, spec)
        chosen, values = collapse_hits(self, hits, spec, groups)
        for pos, value in zip(chosen, values, strict=True):
            _, num, key = hits[pos]
            self.collapsed[(num, key)] = value
        return ([hits[p] for p in chosen],
                None if sort_values is None else [sort_values[p] for p in chosen])

    def knn_hits(self, spec: KnnSpec) -> list[Hit]:
        """Global top-k of a knn spec over every index (scores include `boost`)."""
        cached = self._knn_cache.get(id(spec))
        if cached is not None:
            return cached
        hits: list[Hit] = []
        for num, scope in enumerate(self.scopes):
            for key, score in knn_search(scope.ctx, spec):
                hits.append((score * spec.boost, num, key))
        self.rank(hits)
        hits = hits[:spec.k]
        self._knn_cache[id(spec)] = hits
        return hits

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
        scope = self.scopes[num]
        parts = []
        if query is not None:
            parts.append(query.compile(scope.ctx))
        for spec in knn:
            q = self._knn_query(num, self.knn_hits(spec))
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
        flts = [f.compile(scope.ctx) for f in [*filters, *self.extra_filters]]
        if scope.alias_filter is not None:
            flts.append(scope.alias_filter)
        return with_filters(combined, flts)

    def top(self, queries: list[tantivy.Query], limit: int, count: bool,
            min_score: float | None = None) -> tuple[list[Hit], int]:
        """Best `limit` hits over all indices, and the total count of matches."""
        hits: list[Hit] = []
        total = 0
        for num, (scope, query) in enumerate(zip(self.scopes, queries, strict=True)):
            searcher = scope.ctx.shard.fulltext.searcher
            n = scope.ctx.shard.fulltext.count(query) if (min_score is not None or
                                                           (count and limit > 10000)) else 0
            want = n if min_score is not None else min(limit, 10000) if not count else \
                min(limit, n)
            if min_score is None:
                total += n
            if count and min_score is None and limit <= 10000:
                # one pass gives the count and the top hits
                result = searcher.search(query, max(limit, 1), count=True)
                total += result.count
            elif want == 0:
                continue
            else:
                result = searcher.search(query, want, count=False)
            for score, key in keys_of(scope, result):
                if min_score is None or score >= min_score:
                    hits.append((score, num, key))
                    total += min_score is not None
        self.rank(hits)
        return hits[:limit] if min_score is None else hits, total

    # -- modes --------------------------------------------------------------------------------
    def retrieve(self, node: Retriever, window: int) -> tuple[list[Hit], list[tantivy.Query]]:
        """Ranked hits of a retriever and, per index, a query matching everything it matched."""
        hits, queries = self._retrieve(node, window)
        self.retrieved[id(node)] = hits
        return hits, queries

    def _retrieve(self, node: Retriever, window: int) -> tuple[list[Hit], list[tantivy.Query]]:
        if node.kind == "standard":
            queries = [self.scope_query(i, node.query, [], node.filters)
                       for i in range(len(self.scopes))]
            if node.terminate_after:
                queries = self.terminate(queries, node.terminate_after)
            if node.sort or node.search_after or node.collapse:
                from .request import parse_sort

                hits, total = self.top(queries, 10 ** 9, count=True, min_score=node.min_score)
                if node.sort or node.search_after:
                    hits = sort_hits(self, hits, parse_sort(node.sort) or _score_sort(),
                                     node.search_after)[0]
                if node.collapse:
                    hits = self.collapse(hits, None, node.collapse, window)[0]
            else:
                hits, total = self.top(queries, window, count=self.count_standard,
                                       min_score=node.min_score)
            self.standard_totals[id(node)] = total
            return hits[:window], queries
        if node.kind == "knn":
            hits = self.knn_hits(node.knn)
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
        for child, weight in node.children:
            ranked, queries = self.retrieve(
                with_retriever_filters(child, node.filters) if node.filters else child,
                child_window)
            self.retrieved[id(child)] = ranked
            ranked_lists.append(ranked)
            for rank, (_, num, key) in enumerate(ranked, start=1):
                fused[(num, key)] = fused.get((num, key), 0.0) + \
                    weight / (node.rank_constant + rank)
            for i, q in enumerate(queries):
                unions[i].append(q)
        union_queries = [tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in qs])
                         if len(qs) > 1 else qs[0] for qs in unions]
        if node.kind == "linear":
            self.retrieved_lists[id(node)] = ranked_lists
            return linear.fuse(node, ranked_lists, self.rank), union_queries
        hits = [(score, num, key) for (num, key), score in fused.items()]
        self.rank(hits)
        return hits[:child_window], union_queries

    def execute(self) -> dict[str, Any]:
        """The search response body."""
        started = time.perf_counter()
        req = self.req
        count = req.track_total_hits is not False
        aggs_queries: list[tantivy.Query] | None = None
        sorted_by_fields = bool(req.sort) and not (len(req.sort) == 1 and
                                                   req.sort[0].field == "_score" and
                                                   req.sort[0].order == "desc")
        sort_values: list[list[Any]] | None = None
        capped = False
        if req.retriever is not None or req.rrf is not None:
            node = self.top_retriever = req.retriever or rank_rrf(
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
                self.collapse_view = (node.collapse, node.query, [], node.filters)
            capped = count and self._at_least(retriever_queries(node)) > self._cap()
            self.count_standard = count and not capped and one_standard_and_knn(node)
            hits, queries = self.retrieve(node, window)
            aggs_queries = queries
            if capped:
                total = self._cap()
            elif self.count_standard:
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
                    self.keep_all:
                hits, total = self.top(queries, 10 ** 9, count=True, min_score=req.min_score)
                if sorted_by_fields or req.search_after is not None:
                    hits, sort_values = sort_hits(self, hits, req.sort or _score_sort(),
                                                  req.search_after)
                if req.collapse:
                    hits, sort_values = self.collapse(hits, sort_values, req.collapse,
                                                      req.from_ + req.size)
                    self.collapse_view = (req.collapse, req.query, req.knn,
                                          self.extra_filters)
            else:
                capped = (count and req.post_filter is None and req.min_score is None and
                          not req.terminate_after and
                          self._at_least([req.query]) > self._cap())
                hits, total = self.top(queries, req.from_ + req.size, count and not capped,
                                       min_score=req.min_score)
                if capped:
                    total = self._cap()
            page = hits[req.from_:req.from_ + req.size]
            if self.keep_all:
                self.ranked = (hits, sort_values, not sorted_by_fields or req.track_scores)
            if sort_values is not None:
                sort_values = sort_values[req.from_:req.from_ + req.size]
        body: dict[str, Any] = {"took": 0, "timed_out": False}
        if self.terminated_early is not None:
            body["terminated_early"] = self.terminated_early
        body["_shards"] = {"total": len(self.scopes), "successful": len(self.scopes),
                           "skipped": 0, "failed": 0}
        body["hits"] = {}
        if count:
            body["hits"]["total"] = self._total(total, capped)
        elif req.total_as_int:
            body["hits"]["total"] = -1
        show_score = not sorted_by_fields or req.track_scores
        body["hits"]["max_score"] = (max((h[0] for h in hits), default=None)
                                     if show_score else None)
        body["hits"]["hits"] = self.render(page, sort_values, show_score)
        if req.rrf is not None:
            for rank, hit in enumerate(body["hits"]["hits"], start=req.from_ + 1):
                hit["_rank"] = rank
        if req.aggs is not None:
            body["aggregations"] = self._aggs(aggs_queries or [])
        body["took"] = int((time.perf_counter() - started) * 1000)
        return body

    def _hybrid_total(self, node: Retriever) -> int:
        """Matches of one standard retriever plus the kNN hits it does not match, without
        counting the union again."""
        standard = next(c for c, _ in node.children if c.kind == "standard")
        total = self.standard_totals[id(standard)]
        for num, scope in enumerate(self.scopes):
            keys = {key for child, _ in node.children if child.kind == "knn"
                    for _, n, key in self.knn_hits(child.knn) if n == num}
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
        if len(self.scopes) != 1:
            if not self.scopes:
                return {}
            if any("aggs" in b or "aggregations" in b for b in self.req.aggs.values()):
                raise BadRequest("sub-aggregations over several indices are not supported by "
                                 "the embedded engine")
            parts = [run_aggs(s.ctx, q, self.req.aggs)
                     for s, q in zip(self.scopes, queries, strict=True)]
            merged = merge_aggs(self.req.aggs, parts)
            limit = current_limits().max_buckets
            if count_buckets(merged) > limit:
                raise too_many_buckets(limit)
            return merged
        return run_aggs(self.scopes[0].ctx, queries[0], self.req.aggs)

    def _matched_queries(self, page: list[Hit]) -> dict[tuple[int, int], dict[str, float]]:
        """Named queries (`_name`) each hit of the page matches, with their scores."""
        out: dict[tuple[int, int], dict[str, float]] = {}
        for spec in self.req.knn:
            if spec.name:
                for score, num, key in self.knn_hits(spec):
                    out.setdefault((num, key), {})[spec.name] = score
        return matched_queries(self.scopes, self.req.query, page, out)

    def render(self, page: list[Hit], sort_values: list[list[Any]] | None,
               show_score: bool) -> list[dict[str, Any]]:
        """Hits with `_source` (filtered), highlight, fields, sort values, versions."""
        req = self.req
        by_scope: dict[int, list[int]] = {}
        for _, num, key in page:
            by_scope.setdefault(num, []).append(key)
        docs = {num: self.scopes[num].ctx.shard.store.by_seq_nos(keys)
                for num, keys in by_scope.items()}
        fetch, inc, exc = req.source
        matched = self._matched_queries(page)
        out = []
        for pos, (score, num, key) in enumerate(page):
            doc = docs[num].get(key)
            if doc is None:
                continue
            scope = self.scopes[num]
            hit: dict[str, Any] = {}
            if req.explain:
                shard = self._shard_of.get((num, key), 0)
                hit.update({"_shard": f"[{scope.name}][{shard}]", "_node": self.node_id})
            hit.update({"_index": scope.name, "_id": doc.id,
                        "_score": score if show_score else None})
            if req.version:
                hit["_version"] = doc.version
            if req.seq_no_primary_term:
                hit["_seq_no"] = doc.seq_no
                hit["_primary_term"] = doc.primary_term
            source = doc.source_json() if (fetch or self.highlighter or req.fields or
                                           req.docvalue_fields) else None
            if fetch and source is not None:
                hit["_source"] = filter_source(
                    source, inc, exc + vector_paths(scope.ctx) if req.exclude_vectors else exc)
            wanted = (req.fields or []) + (req.docvalue_fields or [])
            if wanted and source is not None:
                fields = requested_fields(scope.ctx, source, wanted)
                if fields:
                    hit["fields"] = fields
            named = matched.get((num, key))
            if named:
                hit["matched_queries"] = named if self.named_scores else list(named)
            if self.highlighter is not None and source is not None:
                marked = self.highlighter.highlight(scope.ctx, req.query or
                                                    retriever_query(req.retriever), source)
                if marked:
                    hit["highlight"] = marked
            if sort_values is not None:
                hit["sort"] = sort_values[pos]
            if self.collapse_view is not None:
                self._render_collapse(hit, self.collapsed.get((num, key)))
            if req.explain:
                hit["_explanation"] = hit_explanation(self, num, key, score)
            out.append(hit)
        return out

    def _render_collapse(self, hit: dict[str, Any], value: Any) -> None:
        assert self.collapse_view is not None
        spec, query, knn, filters = self.collapse_view
        hit.setdefault("fields", {})[spec.field] = [value]
        if spec.inner_hits:
            hit["inner_hits"] = inner_hits(self, query, knn, filters, spec, value)


def _score_sort() -> list[Any]:
    return [SortKey("_score", "desc")]
