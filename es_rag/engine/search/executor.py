"""Runs a SearchRequest over the resolved indices: query, knn, hybrid and retrievers."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import tantivy

from ..errors import BadRequest
from ..fulltext import KEY
from ..limits import current as current_limits
from ..node import Target
from ..query import parse_query
from ..query.base import QueryContext, QueryNode
from ..query.knn import KnnSpec
from ..source_filter import filter_source, source_values
from . import linear
from .aggs import count_buckets, run_aggs, too_many_buckets, validate_aggs
from .collapse import CollapseSpec, check_collapse, collapse_hits, inner_hits
from .explain import hit_explanation
from .highlight import Highlighter
from .knn import knn_search
from .request import SearchRequest
from .retrievers import Retriever
from .shard_order import shard_of
from .sorting import sort_hits

Hit = tuple[float, int, int]  # (score, scope number, document key)


@dataclass
class Scope:
    """One index taking part in a search."""

    target: Target
    ctx: QueryContext
    alias_filter: tantivy.Query | None

    @property
    def name(self) -> str:
        return self.target.index.name


def make_scopes(targets: list[Target]) -> list[Scope]:
    """A query context per index, with the filters of the aliases it was reached through."""
    scopes = []
    for target in targets:
        svc = target.index
        # like Elasticsearch's search-idle shards: no periodic refresh without searches
        svc.shard.searched(idle_refresh="index.refresh_interval" not in svc.settings)
        ctx = QueryContext(svc.mapping, svc.shard, svc.shard.fulltext.schema,
                           settings={**svc.settings, "index.provided_name": svc.name})
        if target.alias_filters:
            compiled = [parse_query(f).compile(ctx) for f in target.alias_filters]
            ctx.alias_filter = compiled[0] if len(compiled) == 1 else \
                tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in compiled])
        scopes.append(Scope(target, ctx, ctx.alias_filter))
    return scopes


def with_filters(query: tantivy.Query, filters: list[tantivy.Query]) -> tantivy.Query:
    """Add non-scoring required clauses to a query."""
    if not filters:
        return query
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, query)] +
        [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters])


def keys_of(scope: Scope, result: tantivy.SearchResult) -> list[tuple[float, int]]:
    hits = result.hits
    keys = scope.ctx.shard.fulltext.searcher.fast_field_values(KEY, [a for _, a in hits])
    return [(float(score), key) for (score, _), key in zip(hits, keys, strict=True)]


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
        child_window = node.rank_window_size or window
        fused: dict[tuple[int, int], float] = {}
        unions: list[list[tantivy.Query]] = [[] for _ in self.scopes]
        ranked_lists = []
        for child, weight in node.children:
            ranked, queries = self.retrieve(_with_filters(child, node.filters) if node.filters
                                            else child, child_window)
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
            node = self.top_retriever = req.retriever or self._rank_rrf()
            compound = node.kind in ("rrf", "linear")
            window = node.rank_window_size if compound and node.rank_window_size \
                else max(req.size + req.from_, 10)
            if compound and node.rank_window_size and node.rank_window_size < req.size:
                raise BadRequest(f"[{'rank' if req.rrf else node.kind}] requires "
                                 f"[rank_window_size: "
                                 f"{node.rank_window_size}] be greater than or equal to [size: "
                                 f"{req.size}]")
            _check_nested_inner_hits(node)
            if node.kind == "standard" and node.collapse is not None:
                self.collapse_view = (node.collapse, node.query, [], node.filters)
            capped = count and self._at_least(_retriever_queries(node)) > self._cap()
            self.count_standard = count and not capped and _one_standard_and_knn(node)
            hits, queries = self.retrieve(node, window)
            aggs_queries = queries
            if capped:
                total = self._cap()
            elif self.count_standard:
                total = self._hybrid_total(node)
            elif node.min_score is not None and node.kind == "linear":
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

    def _rank_rrf(self) -> Retriever:
        req = self.req
        rrf = req.rrf or {}
        for key in rrf:
            if key not in ("rank_constant", "rank_window_size", "window_size"):
                raise BadRequest(f"[rrf] unknown field [{key}]")
        constant = int(rrf.get("rank_constant", 60))
        if constant < 1:
            raise BadRequest("[rank_constant] must be greater or equal to [1] for [rrf]")
        window = rrf.get("rank_window_size", rrf.get("window_size"))
        children: list[tuple[Retriever, float]] = []
        if req.query is not None:
            children.append((Retriever("standard", query=req.query), 1.0))
        children += [(Retriever("standard", query=q), 1.0) for q in req.sub_searches]
        children += [(Retriever("knn", knn=spec), 1.0) for spec in req.knn]
        return Retriever("rrf", children=children, rank_constant=constant,
                         rank_window_size=int(window) if window is not None else
                         max(req.size, 10))

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
            merged = _merge_aggs(self.req.aggs, parts)
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
        nodes = _named_nodes(self.req.query)
        if not nodes or not page:
            return out
        by_scope: dict[int, list[int]] = {}
        for _, num, key in page:
            by_scope.setdefault(num, []).append(key)
        for num, keys in by_scope.items():
            scope = self.scopes[num]
            only_page = tantivy.Query.term_set_query(scope.ctx.schema, KEY, keys)
            for node in nodes:
                query = with_filters(node.compile(scope.ctx), [only_page])
                result = scope.ctx.shard.fulltext.searcher.search(query, len(keys), count=False)
                for score, key in keys_of(scope, result):
                    out.setdefault((num, key), {})[node.query_name] = score
        return out

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
                    source, inc, exc + _vector_paths(scope.ctx) if req.exclude_vectors else exc)
            wanted = (req.fields or []) + (req.docvalue_fields or [])
            if wanted and source is not None:
                fields = _fields(scope.ctx, source, wanted)
                if fields:
                    hit["fields"] = fields
            named = matched.get((num, key))
            if named:
                hit["matched_queries"] = named if self.named_scores else list(named)
            if self.highlighter is not None and source is not None:
                marked = self.highlighter.highlight(scope.ctx, req.query or
                                                    _retriever_query(req.retriever), source)
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


def _check_nested_inner_hits(node: Retriever, nested: bool = False) -> None:
    """Inner hits of a collapse inside a compound retriever are not rendered: refused."""
    if nested and node.collapse is not None and node.collapse.inner_hits:
        raise BadRequest("[inner_hits] of a [collapse] inside a compound retriever are not "
                         "supported by the embedded engine")
    for child, _ in node.children:
        _check_nested_inner_hits(child, nested=True)


def _one_standard_and_knn(node: Retriever) -> bool:
    """An rrf of one standard retriever and knn retrievers (the usual hybrid search)."""
    kinds = [child.kind for child, _ in node.children]
    return node.kind == "rrf" and not node.filters and kinds.count("standard") == 1 and \
        all(k in ("standard", "knn") for k in kinds)


def _retriever_queries(node: Retriever) -> list[QueryNode | None]:
    """The queries of a retriever tree's unfiltered standard retrievers."""
    if node.kind == "standard":
        return [node.query] if not node.filters and node.min_score is None else []
    if node.kind in ("rrf", "linear") and not node.filters and node.min_score is None:
        return [q for child, _ in node.children for q in _retriever_queries(child)]
    return []


def _named_nodes(node: QueryNode | None) -> list[QueryNode]:
    if node is None:
        return []
    out = [node] if node.query_name else []
    for child in node.children():
        out += _named_nodes(child)
    return out


def _score_sort() -> list[Any]:
    from .request import SortKey

    return [SortKey("_score", "desc")]


def _with_filters(node: Retriever, filters: list[QueryNode]) -> Retriever:
    if node.kind == "standard":
        return Retriever("standard", query=node.query, filters=[*node.filters, *filters],
                         min_score=node.min_score, sort=node.sort,
                         search_after=node.search_after)
    if node.kind == "knn" and node.knn is not None:
        node.knn.filters = [*node.knn.filters, *filters]
        return node
    return replace(node, filters=[*node.filters, *filters])


def _retriever_query(node: Retriever | None) -> QueryNode | None:
    """A query standing for a retriever tree's text clauses (for highlighting)."""
    if node is None:
        return None
    if node.kind == "standard":
        return node.query
    from ..query.compound import BoolQuery

    nodes = [q for q in (_retriever_query(c) for c, _ in node.children) if q is not None]
    if not nodes:
        return None
    combined = BoolQuery({})
    combined.clauses["should"] = nodes
    return combined


def _fields(ctx: QueryContext, source: dict[str, Any], patterns: list[Any]) -> dict[str, Any]:
    import fnmatch

    out: dict[str, Any] = {}
    for item in patterns:
        pattern = item.get("field") if isinstance(item, dict) else str(item)
        number_format = item.get("format") if isinstance(item, dict) else None
        for path, spec in ctx.mapping.fields.items():
            if spec.type == "object" or not fnmatch.fnmatchcase(path, pattern or ""):
                continue
            if spec.type == "dense_vector":
                values = _raw_values(source, path)
            else:
                values = source_values(source, path)
                values = [_typed(spec.type, v) for v in values]
                if number_format and "." in number_format:
                    decimals = len(number_format.split(".", 1)[1])
                    values = [f"{float(v):.{decimals}f}" if isinstance(v, int | float) else v
                              for v in values]
            if values:
                out[path] = values
    return out


def _raw_values(source: dict[str, Any], path: str) -> list[Any]:
    node: Any = source
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return node if isinstance(node, list) else [node]


def _typed(ftype: str, value: str) -> Any:
    if ftype in ("long", "integer", "short", "byte"):
        try:
            return int(float(value))
        except ValueError:
            return value
    if ftype in ("double", "float", "half_float", "scaled_float"):
        try:
            return float(value)
        except ValueError:
            return value
    if ftype == "boolean":
        return value in ("True", "true")
    return value


def _merge_aggs(spec: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, body in spec.items():
        kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
        values = [p[name] for p in parts]
        if kind == "terms":
            counts: dict[Any, dict[str, Any]] = {}
            for v in values:
                for b in v["buckets"]:
                    merged = counts.setdefault(b["key"], {**b, "doc_count": 0})
                    merged["doc_count"] += b["doc_count"]
            size = int(body[kind].get("size", 10))
            buckets = sorted(counts.values(), key=lambda b: (-b["doc_count"], str(b["key"])))
            out[name] = {"doc_count_error_upper_bound": 0,
                         "sum_other_doc_count": sum(b["doc_count"] for b in buckets[size:]) +
                         sum(v["sum_other_doc_count"] for v in values),
                         "buckets": buckets[:size]}
        elif kind in ("min", "max"):
            nums = [v["value"] for v in values if v.get("value") is not None]
            out[name] = {"value": (min if kind == "min" else max)(nums) if nums else None}
        elif kind in ("sum", "value_count"):
            out[name] = {"value": sum(v.get("value") or 0 for v in values)}
        elif kind == "filters":
            first = values[0]["buckets"]
            keys = list(first) if isinstance(first, dict) else range(len(first))
            buckets = {key: {"doc_count": sum(v["buckets"][key]["doc_count"] for v in values)}
                       for key in keys}
            out[name] = {"buckets": buckets if isinstance(first, dict) else list(
                buckets.values())}
        else:
            raise BadRequest(f"[{kind}] over several indices is not supported by the embedded "
                             f"engine")
    return out


_VECTOR_TYPES = frozenset({"dense_vector", "sparse_vector", "rank_vectors"})


def _vector_paths(ctx: QueryContext) -> list[str]:
    """The vector fields of an index, left out of `_source` by `exclude_vectors: true`."""
    return [path for path, spec in ctx.mapping.fields.items() if spec.type in _VECTOR_TYPES]
