"""The state of one search request: the request, its reader scope and what its phases share.

A `SearchContext` is built once per search (or per inner-hits search, sharing its parent's
indices and kNN results) and handed to the query phase, the fetch phase and the parts they use
(sorting, collapse, explain), as Elasticsearch hands its `SearchContext` to each phase: the
parsed request, the indices searched with their alias and DLS filters (`scopes`), and what a
phase records for a later one (ranked retriever lists, collapse groups, shard of each hit).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .highlight import Highlighter
from .knn import knn_search
from .scope import Hit, Scope
from .shard_order import shard_of

if TYPE_CHECKING:
    from ..query.base import QueryNode
    from ..query.knn import KnnSpec
    from .collapse import CollapseSpec
    from .profile import SearchProfiler
    from .request import SearchRequest
    from .retrievers import Retriever


class SearchContext:
    """One search: its request, the indices it reads (`scopes`) and per-request state."""

    def __init__(self, req: SearchRequest, scopes: list[Scope]) -> None:
        self.req = req
        self.scopes = scopes
        self._knn_cache: dict[int, list[Hit]] = {}
        # filters added to the request's query (the group of a collapse's inner hits)
        self.extra_filters: list[QueryNode] = []
        self.index_boosts: dict[str, float] = {}  # `indices_boost` by concrete index
        self.top_score: float | None = None  # a collapsed search's best score before collapsing
        # group value per collapsed hit, and what the rendered hits' inner hits search
        self.collapsed: dict[tuple[int, int], Any] = {}
        self.collapse_view: tuple[CollapseSpec, QueryNode | None, list[KnnSpec],
                                  list[QueryNode]] | None = None
        self.terminated_early: bool | None = None
        self._shard_of: dict[tuple[int, int], int] = {}
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
        # `allow_partial_search_results`, the indices asked for, and their shard failures
        self.allow_partial = True
        self.total_shards = len(scopes)
        self.shard_failures: list[dict[str, Any]] = []
        self.failure_statuses: list[int] = []
        self.profiler: SearchProfiler | None = None  # `"profile": true`

    def without(self, num: int) -> SearchContext:
        """This search over its indices but the `num`th (whose shard failed), with none of the
        state a run of its phases left."""
        other = SearchContext(self.req, [s for i, s in enumerate(self.scopes) if i != num])
        for name in ("extra_filters", "index_boosts", "named_scores", "node_id", "keep_all",
                     "allow_partial", "total_shards", "shard_failures", "failure_statuses"):
            setattr(other, name, getattr(self, name))
        if self.profiler is not None:
            other.profiler = self.profiler.without(num)
        return other

    def child(self, req: SearchRequest, filters: list[QueryNode]) -> SearchContext:
        """A search of `req` over this one's indices (and kNN results), with extra filters."""
        child = SearchContext(req, self.scopes)
        child._knn_cache = self._knn_cache
        child.extra_filters = filters
        return child

    def rank(self, hits: list[Hit]) -> None:
        """Sort hits by score, ties in Elasticsearch's order (index, shard, document)."""
        self.learn_shards(hits)
        hits.sort(key=lambda h: (-h[0], *self.tie(h[1], h[2])))

    def tie(self, num: int, key: int) -> tuple[int, int, int]:
        """The order of a hit among equal sort values: index, shard, then indexing order."""
        return num, self._shard_of.get((num, key), 0), key

    def shard(self, num: int, key: int) -> int:
        """The Elasticsearch shard a hit was found on (0 until `learn_shards` saw it)."""
        return self._shard_of.get((num, key), 0)

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

    def knn_hits(self, spec: KnnSpec) -> list[Hit]:
        """Global top-k of a knn spec over every index (scores include `boost`)."""
        cached = self._knn_cache.get(id(spec))
        if cached is not None:
            return cached
        hits: list[Hit] = []
        for num, scope in enumerate(self.scopes):
            started = time.perf_counter_ns()
            for key, score in knn_search(scope.ctx, spec):
                hits.append((score * spec.boost, num, key))
            if self.profiler is not None:
                self.profiler.knn_searched(num, time.perf_counter_ns() - started)
        self.rank(hits)
        hits = hits[:spec.k]
        self._knn_cache[id(spec)] = hits
        return hits
