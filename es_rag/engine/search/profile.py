"""The Search Profile API (`"profile": true`): time measured around what each phase really does.

As Elasticsearch's `SearchProfileResults`, a search's profile holds one entry per shard (the
engine serves each index as shard 0): the query tree with its timings (`QueryProfileShardResult`,
`ProfileResult`), the collector (`CollectorResult`), the aggregations
(`AggregationProfileShardResult`) and the fetch phase (`FetchProfileShardResult`). Times are
`time.perf_counter_ns` around the engine's own steps; which breakdown keys hold a measured time
is listed in the engine README.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ActionRequestValidation, ParsingError
from ..query.base import QueryContext, QueryNode

if TYPE_CHECKING:
    from .scope import Scope

# Lucene's breakdown keys of a query node (`QueryTimingType`), in Elasticsearch's order
_QUERY_TIMINGS = ("create_weight", "build_scorer", "next_doc", "advance", "match", "score",
                  "shallow_advance", "compute_max_score", "set_min_competitive_score",
                  "count_weight")
_AGG_TIMINGS = ("initialize", "build_leaf_collector", "collect", "post_collection",
                "build_aggregation", "reduce")
# the Lucene query class each clause kind becomes in Elasticsearch
_LUCENE_TYPES = {
    "bool": "BooleanQuery", "term": "TermQuery", "terms": "TermInSetQuery",
    "ids": "TermInSetQuery", "range": "IndexOrDocValuesQuery", "exists": "FieldExistsQuery",
    "prefix": "PrefixQuery", "wildcard": "WildcardQuery", "regexp": "RegexpQuery",
    "fuzzy": "FuzzyQuery", "match_phrase": "PhraseQuery", "multi_match": "DisjunctionMaxQuery",
    "query_string": "BooleanQuery", "simple_query_string": "BooleanQuery",
    "constant_score": "ConstantScoreQuery", "dis_max": "DisjunctionMaxQuery",
    "match_all": "MatchAllDocsQuery", "match_none": "MatchNoDocsQuery",
    "function_score": "FunctionScoreQuery", "script_score": "ScriptScoreQuery",
    "knn": "KnnFloatVectorQuery", "nested": "ESToParentBlockJoinQuery",
    "intervals": "IntervalQuery", "combined_fields": "CombinedFieldQuery",
    "sparse_vector": "SparseVectorQuery", "semantic": "SparseVectorQuery",
}
# the aggregator class Elasticsearch profiles each aggregation kind as
_AGGREGATORS = {
    "avg": "AvgAggregator", "sum": "SumAggregator", "min": "MinAggregator",
    "max": "MaxAggregator", "value_count": "ValueCountAggregator", "stats": "StatsAggregator",
    "extended_stats": "ExtendedStatsAggregator", "cardinality": "CardinalityAggregator",
    "histogram": "NumericHistogramAggregator", "date_histogram": "DateHistogramAggregator",
    "range": "RangeAggregator", "date_range": "DateRangeAggregator",
    "filter": "FilterAggregator", "filters": "FiltersAggregator", "global": "GlobalAggregator",
    "missing": "MissingAggregator", "top_hits": "TopHitsAggregator",
    "percentiles": "TDigestPercentilesAggregator",
    "percentile_ranks": "TDigestPercentileRanksAggregator", "nested": "NestedAggregator",
    "reverse_nested": "ReverseNestedAggregator", "composite": "CompositeAggregator",
    "significant_terms": "MapStringTermsAggregator",
}


def check_profile(body: dict[str, Any]) -> bool:
    """Whether a search body asks for a profile; `rank` refuses it as Elasticsearch's
    `SearchRequest.validate` does."""
    value = body.get("profile", False)
    if value not in (True, False, "true", "false"):
        raise ParsingError(f"Failed to parse value [{value}] as only [true] or [false] are "
                           f"allowed.")
    profile = value in (True, "true")
    if profile and body.get("rank") is not None:
        raise ActionRequestValidation(
            "Validation Failed: 1: [rank] requires [profile] is [false];")
    return profile


@dataclass
class ShardTimes:
    """What was measured on one index (shard 0 of it)."""

    compile_ns: int = 0  # building the index's query (Lucene: creating its weight)
    compiles: int = 0
    knn_ns: int = 0  # the top-level kNN searches of the index
    knn_searches: int = 0
    search_ns: int = 0  # tantivy running it: matching, scoring and collecting the top hits
    searches: int = 0
    matches: int = 0  # matching documents counted (through the reader's DLS filters)
    collected: int = 0  # hits collected
    node_ns: dict[int, int] = field(default_factory=dict)  # per clause: its own compile
    node_calls: dict[int, int] = field(default_factory=dict)
    load_ns: int = 0  # fetch: loading the stored documents of the page
    loads: int = 0
    source_ns: int = 0  # fetch: reading `_source` (as the reader may see it)
    sources: int = 0
    filter_ns: int = 0  # fetch: the `_source` filtering sub-phase
    hit_ns: int = 0  # fetch: rendering the hits
    hits: int = 0


class SearchProfiler:
    """Collects the timings of one search over its indices, and renders its profile."""

    def __init__(self, scopes: list[Scope], node_id: str, query: QueryNode | None,
                 knn: bool = False) -> None:
        self.names = [s.name for s in scopes]
        self.contexts: list[QueryContext] = [s.ctx for s in scopes]
        self.node_id = node_id
        self.query = query
        self.knn = knn  # the search has top-level kNN
        self.shards = [ShardTimes() for _ in scopes]
        self.current: int | None = None
        self.sorted = False
        self.agg_ns: dict[str, int] = {}
        if query is not None:
            for node in _tree(query):
                self._instrument(node)

    def without(self, num: int) -> SearchProfiler:
        """This profiler for the search going on without its `num`th index (failed)."""
        self.names.pop(num)
        self.contexts.pop(num)
        self.shards = [ShardTimes() for _ in self.names]
        self.agg_ns = {}
        return self

    def _instrument(self, node: QueryNode) -> None:
        """Time every compile of `node` while an index's query is being built."""
        original = node.compile
        key = id(node)

        def compile_timed(ctx: QueryContext) -> Any:
            if self.current is None:
                return original(ctx)
            shard = self.shards[self.current]
            started = time.perf_counter_ns()
            try:
                return original(ctx)
            finally:
                shard.node_ns[key] = shard.node_ns.get(key, 0) + time.perf_counter_ns() - started
                shard.node_calls[key] = shard.node_calls.get(key, 0) + 1

        node.compile = compile_timed  # type: ignore[method-assign]

    @contextmanager
    def compiling(self, num: int) -> Iterator[None]:
        """Around building index `num`'s query."""
        outer, self.current = self.current, num
        started = time.perf_counter_ns()
        try:
            yield
        finally:
            self.current = outer
            if outer is None:  # a nested build is part of the outer one's time
                self.shards[num].compile_ns += time.perf_counter_ns() - started
                self.shards[num].compiles += 1

    @contextmanager
    def searching(self, num: int) -> Iterator[None]:
        """Around tantivy running index `num`'s query."""
        started = time.perf_counter_ns()
        try:
            yield
        finally:
            self.shards[num].search_ns += time.perf_counter_ns() - started
            self.shards[num].searches += 1

    def knn_searched(self, num: int, spent: int) -> None:
        """A top-level kNN search of index `num` took `spent`: part of building that index's
        query, even when it ran while another index's query was being built."""
        self.shards[num].knn_ns += spent
        self.shards[num].knn_searches += 1
        if self.current != num:
            self.shards[num].compile_ns += spent
            if self.current is not None:
                self.shards[self.current].compile_ns -= spent

    def found(self, num: int, matches: int, collected: int) -> None:
        """Matches counted and hits collected by a search of index `num`."""
        self.shards[num].matches += matches
        self.shards[num].collected += collected

    def aggregate(self, run: Callable[[dict[str, Any]], dict[str, Any]],
                  aggs: dict[str, Any], pipelines: Callable[[dict[str, Any]], bool],
                  finish: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
                  ) -> dict[str, Any]:
        """The aggregations, each top-level one run (and timed) on its own; sibling
        pipelines computed after them by `finish`."""
        results: dict[str, Any] = {}
        for name, body in aggs.items():
            if pipelines(body):
                continue
            started = time.perf_counter_ns()
            results.update(run({name: body}))
            self.agg_ns[name] = time.perf_counter_ns() - started
        # the sub-aggregations' own pipelines ran with them: only the top level's are left
        top = {name: body if pipelines(body) else
               {k: v for k, v in body.items() if k not in ("aggs", "aggregations")}
               for name, body in aggs.items()}
        return finish(top, {name: results[name] for name in aggs if name in results})

    def render(self, aggs: dict[str, Any] | None) -> dict[str, Any]:
        """The response's `profile` section."""
        shards = []
        for num, name in enumerate(self.names):
            times = self.shards[num]
            entry: dict[str, Any] = {
                "id": f"[{self.node_id}][{name}][0]", "node_id": self.node_id, "shard_id": 0,
                "index": name, "cluster": "(local)",
                "searches": [{"query": [self._top_node(num)], "rewrite_time": 0,
                              "collector": [self._collector(times)]}],
                "aggregations": [self._aggregation(num, n, b) for n, b in (aggs or {}).items()
                                 if n in self.agg_ns]}
            if times.loads:
                entry["fetch"] = _fetch(times)
            shards.append(entry)
        shards.sort(key=lambda e: e["id"])
        return {"shards": shards}

    def _top_node(self, num: int) -> dict[str, Any]:
        """The top query node: the whole of the index's query phase (building its query, then
        tantivy matching, scoring and collecting)."""
        times = self.shards[num]
        breakdown = _breakdown(create_weight=(times.compile_ns, times.compiles),
                               score=(times.search_ns, times.collected),
                               next_doc=(0, times.matches))
        if self.query is None:
            if self.knn:
                return _node("KnnScoreDocQuery", "ScoreAndDocQuery", breakdown, [])
            return _node("MatchAllDocsQuery", "*:*", breakdown, [])
        if self.knn:  # the query and the kNN hits, as one disjunction
            query = self._node(num, self.query)
            knn = _node("KnnScoreDocQuery", "ScoreAndDocQuery",
                        _breakdown(create_weight=(times.knn_ns, times.knn_searches)), [])
            return _node("BooleanQuery", f"{_grouped(query)} ScoreAndDocQuery", breakdown,
                         [query, knn])
        return _node(*_described(self.query, self.contexts[num], top=True), breakdown,
                     [self._node(num, c) for c in self.query.children()])

    def _node(self, num: int, node: QueryNode) -> dict[str, Any]:
        times = self.shards[num]
        spent = times.node_ns.get(id(node), 0)
        breakdown = _breakdown(create_weight=(spent, times.node_calls.get(id(node), 0)))
        return _node(*_described(node, self.contexts[num], top=False), breakdown,
                     [self._node(num, c) for c in node.children()])

    def _collector(self, times: ShardTimes) -> dict[str, Any]:
        name = "SimpleFieldCollector" if self.sorted else "SimpleTopScoreDocCollector"
        return {"name": name, "reason": "search_top_hits", "time_in_nanos": times.search_ns}

    def _aggregation(self, num: int, name: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
        spent = self.agg_ns[name]
        return {"type": _aggregator(kind, body[kind], self.contexts[num]), "description": name,
                "time_in_nanos": spent,
                "breakdown": _agg_breakdown(spent)}


def profiling(profiler: SearchProfiler | None, num: int, step: str) -> AbstractContextManager[None]:
    """Time `step` ("compile" or "search") of index `num` when the search is profiled."""
    if profiler is None:
        return nullcontext()
    return profiler.compiling(num) if step == "compile" else profiler.searching(num)


def _tree(node: QueryNode) -> Iterator[QueryNode]:
    yield node
    for child in node.children():
        yield from _tree(child)


def _grouped(node: dict[str, Any]) -> str:
    text = node["description"]
    return f"({text})" if node["type"] == "BooleanQuery" and not text.startswith("(") else text


def _breakdown(**measured: tuple[int, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in _QUERY_TIMINGS:
        spent, count = measured.get(key, (0, 0))
        out[key] = spent
        out[f"{key}_count"] = count
    return out


def _agg_breakdown(spent: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in _AGG_TIMINGS:
        out[key] = spent if key == "collect" else 0
        out[f"{key}_count"] = 1 if key == "collect" else 0
    return out


def _node(kind: str, description: str, breakdown: dict[str, int],
          children: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "description": description,
                           "time_in_nanos": sum(v for k, v in breakdown.items()
                                                if not k.endswith("_count")),
                           "breakdown": breakdown}
    if children:
        out["children"] = children
    return out


def _described(node: QueryNode, ctx: QueryContext, top: bool) -> tuple[str, str]:
    """The Lucene query class a clause is profiled as, and its text in Lucene's style."""
    try:
        text = node.describe(ctx)
    except Exception:  # noqa: BLE001 - a clause that cannot describe itself on this index
        text = node.name
    if top and node.name == "bool" and text.startswith("(") and text.endswith(")"):
        text = text[1:-1]  # Lucene prints the outermost boolean without parentheses
    kind = _LUCENE_TYPES.get(node.name, "")
    if node.name == "match":
        kind = "BooleanQuery" if " " in text.strip("()") else "TermQuery"
    if not kind:
        kind = "".join(p.capitalize() for p in node.name.split("_")) + "Query"
    if node.boost != 1.0:
        kind = "BoostQuery"
    return kind, text


def _aggregator(kind: str, spec: Any, ctx: QueryContext) -> str:
    if kind == "terms":
        field_name = spec.get("field") if isinstance(spec, dict) else None
        field_spec = ctx.spec(field_name) if isinstance(field_name, str) else None
        numeric = field_spec is not None and field_spec.type not in ("keyword", "text",
                                                                     "boolean", "ip")
        return "NumericTermsAggregator" if numeric else "GlobalOrdinalsStringTermsAggregator"
    return _AGGREGATORS.get(kind, "".join(p.capitalize() for p in kind.split("_"))
                            + "Aggregator")


def _fetch(times: ShardTimes) -> dict[str, Any]:
    children = []
    if times.sources:
        children.append({"type": "FetchSourcePhase", "description": "",
                         "time_in_nanos": times.filter_ns,
                         "breakdown": {"next_reader": 0, "next_reader_count": 0,
                                       "process": times.filter_ns,
                                       "process_count": times.sources},
                         "debug": {"fast_path": 0}})
    stored = ["_id", "_routing", "_source"] if times.sources else ["_id", "_routing"]
    return {"type": "fetch", "description": "",
            "time_in_nanos": times.load_ns + times.hit_ns,
            "breakdown": {"next_reader": 0, "next_reader_count": 0,
                          "load_stored_fields": times.load_ns,
                          "load_stored_fields_count": times.loads,
                          "load_source": times.source_ns, "load_source_count": times.sources},
            "debug": {"stored_fields": stored}, "children": children}
