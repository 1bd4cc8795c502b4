"""Compound clauses: bool, constant_score, dis_max, match_all, match_none."""

from __future__ import annotations

from typing import Any

import tantivy

from ..errors import ParsingError
from .base import (
    QueryContext,
    QueryNode,
    as_float,
    boosted,
    check_keys,
    constant,
    expect_object,
    minimum_should_match,
)

_OCCURS = ("must", "should", "filter", "must_not")


class BoolQuery(QueryNode):
    """`bool`: must and should add scores, filter and must_not do not score."""

    name = "bool"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = expect_object("bool", body)
        check_keys("bool", body, {*_OCCURS, "minimum_should_match", "boost", "_name",
                                  "adjust_pure_negative"})
        self.clauses: dict[str, list[QueryNode]] = {}
        for occur in _OCCURS:
            items = body.get(occur, [])
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list):
                raise ParsingError(f"[bool] query does not support [{occur}]")
            self.clauses[occur] = [parse_query(item) for item in items if item != {}]
        self.msm = body.get("minimum_should_match")
        self.boost = as_float("bool", body.get("boost", 1.0))
        self.query_name = body.get("_name")
        for node in self.clauses["must"] + self.clauses["should"]:
            for knn in node.knn_nodes():
                knn.prefilters.extend(self.clauses["filter"])

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        c = self.clauses
        subs: list[tuple[tantivy.Occur, tantivy.Query]] = []
        subs += [(tantivy.Occur.Must, q.compile(ctx)) for q in c["must"]]
        subs += [(tantivy.Occur.Should, q.compile(ctx)) for q in c["should"]]
        subs += [(tantivy.Occur.Must, constant(q.compile(ctx), 0.0)) for q in c["filter"]]
        subs += [(tantivy.Occur.MustNot, q.compile(ctx)) for q in c["must_not"]]
        if not c["must"] and not c["should"] and not c["filter"]:
            # a bool with nothing required matches everything (score 1 if empty, else 0)
            score = 1.0 if not c["must_not"] else 0.0
            subs.append((tantivy.Occur.Must, constant(tantivy.Query.all_query(), score)))
        required = 0
        if c["should"]:
            if self.msm is not None:
                required = minimum_should_match(self.msm, len(c["should"]))
            elif not c["must"] and not c["filter"]:
                required = 1
        if required and (c["must"] or c["filter"]) or required > 1:
            query = tantivy.Query.boolean_query(subs, minimum_number_should_match=required)
        else:
            query = tantivy.Query.boolean_query(subs)
        return boosted(query, self.boost)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        out: set[str] = set()
        for occur in ("must", "should", "filter"):
            for node in self.clauses[occur]:
                out |= node.highlight_terms(ctx, path)
        return out

    def knn_nodes(self) -> list[QueryNode]:
        return [k for occur in _OCCURS for n in self.clauses[occur] for k in n.knn_nodes()]

    def children(self) -> list[QueryNode]:
        return [n for occur in _OCCURS for n in self.clauses[occur]]

    def min_matches(self, ctx: QueryContext) -> int:
        c = self.clauses
        if c["must"] or c["filter"] or c["must_not"] or \
                self.msm not in (None, 1, "1"):
            return 0
        return max((q.min_matches(ctx) for q in c["should"]), default=0)


class ConstantScoreQuery(QueryNode):
    """`constant_score`: the filter's matches, all scored `boost`."""

    name = "constant_score"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = expect_object("constant_score", body)
        check_keys("constant_score", body, {"filter", "boost", "_name"})
        if "filter" not in body:
            raise ParsingError("[constant_score] requires a 'filter' element")
        self.filter = parse_query(body["filter"])
        self.boost = as_float("constant_score", body.get("boost", 1.0))
        self.query_name = body.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return constant(self.filter.compile(ctx), self.boost)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        return self.filter.highlight_terms(ctx, path)

    def knn_nodes(self) -> list[QueryNode]:
        return self.filter.knn_nodes()

    def children(self) -> list[QueryNode]:
        return [self.filter]


class DisMaxQuery(QueryNode):
    """`dis_max`: the best clause's score plus tie_breaker times the others'."""

    name = "dis_max"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = expect_object("dis_max", body)
        check_keys("dis_max", body, {"queries", "tie_breaker", "boost", "_name"})
        self.queries = [parse_query(q) for q in body.get("queries", [])]
        if not self.queries:
            raise ParsingError("[dis_max] requires 'queries' field with at least one clause")
        self.tie = float(body.get("tie_breaker", 0.0))
        self.boost = as_float("dis_max", body.get("boost", 1.0))
        self.query_name = body.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return boosted(tantivy.Query.disjunction_max_query(
            [q.compile(ctx) for q in self.queries], tie_breaker=self.tie), self.boost)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        out: set[str] = set()
        for q in self.queries:
            out |= q.highlight_terms(ctx, path)
        return out

    def knn_nodes(self) -> list[QueryNode]:
        return [k for q in self.queries for k in q.knn_nodes()]

    def children(self) -> list[QueryNode]:
        return list(self.queries)


class MatchAllQuery(QueryNode):
    """`match_all`: every document, score `boost`."""

    name = "match_all"

    def __init__(self, body: Any) -> None:
        body = expect_object("match_all", body or {})
        check_keys("match_all", body, {"boost", "_name"})
        self.boost = as_float("match_all", body.get("boost", 1.0))
        self.query_name = body.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return constant(tantivy.Query.all_query(), self.boost)

    def min_matches(self, ctx: QueryContext) -> int:
        return ctx.shard.fulltext.searcher.num_docs


class MatchNoneQuery(QueryNode):
    """`match_none`: no document."""

    name = "match_none"

    def __init__(self, body: Any) -> None:
        expect_object("match_none", body or {})

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return tantivy.Query.empty_query()
