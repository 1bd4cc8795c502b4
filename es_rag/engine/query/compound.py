"""Compound clauses: bool, constant_score, dis_max, match_all, match_none."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import tantivy

from ..errors import ParsingError
from .base import (
    QueryContext,
    QueryNode,
    boosted,
    constant,
    expect_object,
    minimum_should_match,
)
from .explanation import Explanation, expl, f32, java_float, sum_of, tantivy_tree, with_boost

_OCCURS = ("must", "should", "filter", "must_not")


class BoolQuery(QueryNode):
    """`bool`: must and should add scores, filter and must_not do not score."""

    name = "bool"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = self.open(body, {*_OCCURS, "minimum_should_match", "adjust_pure_negative"})
        self.clauses: dict[str, list[QueryNode]] = {}
        for occur in _OCCURS:
            items = body.get(occur, [])
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list):
                raise ParsingError(f"[bool] query does not support [{occur}]")
            self.clauses[occur] = [parse_query(item) for item in items if item != {}]
        self.msm = body.get("minimum_should_match")
        for node in self.clauses["must"] + self.clauses["should"]:
            for knn in node.knn_nodes():
                knn.prefilters.extend(self.clauses["filter"])

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        c = self.clauses
        ctx.add_clauses(sum(len(nodes) for nodes in c.values()))
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

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        if tantivy_tree(ctx, ctx.compiled(self), address) is None:
            return None
        c = self.clauses
        boost *= self.boost
        if not c["must"] and not c["should"] and not c["filter"]:
            if not c["must_not"]:
                return expl(f32(boost), with_boost("*:*", f32(boost)))
            return expl(0.0, "sum of:", [_required("*:*")])
        scored = [e for e in (q.explain(ctx, address, boost) for q in c["must"] + c["should"])
                  if e is not None]
        if len(scored) == 1 and len(c["must"]) + len(c["should"]) == 1 and \
                not c["filter"] and not c["must_not"] and self.msm is None:
            return scored[0]  # Lucene rewrites a one-clause boolean to its clause
        required = [_required(q.describe(ctx)) for q in c["filter"]]
        if not scored:
            return expl(0.0, "sum of:", required)
        total = sum_of(scored)
        return expl(total["value"], "sum of:", scored + required)

    def describe(self, ctx: QueryContext) -> str:
        parts = [prefix + q.describe(ctx) for occur, prefix in
                 (("must", "+"), ("should", ""), ("filter", "#"), ("must_not", "-"))
                 for q in self.clauses[occur]]
        return f"({' '.join(parts)})" if parts else "*:*"

    def knn_nodes(self) -> list[QueryNode]:
        return [k for occur in _OCCURS for n in self.clauses[occur] for k in n.knn_nodes()]

    def children(self) -> list[QueryNode]:
        return [n for occur in _OCCURS for n in self.clauses[occur]]

    def highlight_patterns(self, ctx: QueryContext, path: str) -> list[re.Pattern[str]]:
        return [p for occur in ("must", "should", "filter") for node in self.clauses[occur]
                for p in node.highlight_patterns(ctx, path)]

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

        body = self.open(body, {"filter"})
        if "filter" not in body:
            raise ParsingError("[constant_score] requires a 'filter' element")
        self.filter = parse_query(body["filter"])

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return constant(self.filter.compile(ctx), self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return f"ConstantScore({self.filter.describe(ctx)})"

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        if tantivy_tree(ctx, ctx.compiled(self), address) is None:
            return None
        value = f32(self.boost * boost)
        return expl(value, with_boost(self.describe(ctx), value))

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

        body = self.open(body, {"queries", "tie_breaker"})
        self.queries = [parse_query(q) for q in body.get("queries", [])]
        if not self.queries:
            raise ParsingError("[dis_max] requires 'queries' field with at least one clause")
        self.tie = float(body.get("tie_breaker", 0.0))

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return boosted(tantivy.Query.disjunction_max_query(
            [q.compile(ctx) for q in self.queries], tie_breaker=self.tie), self.boost)

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        parts = [e for e in (q.explain(ctx, address, boost * self.boost) for q in self.queries)
                 if e is not None]
        return max_of(parts, self.tie)

    def describe(self, ctx: QueryContext) -> str:
        return f"({' | '.join(q.describe(ctx) for q in self.queries)})"

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
        self.open(body or {})

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return constant(tantivy.Query.all_query(), self.boost)

    def describe(self, ctx: QueryContext) -> str:
        return "*:*"

    def min_matches(self, ctx: QueryContext) -> int:
        return ctx.shard.fulltext.searcher.num_docs


class MatchNoneQuery(QueryNode):
    """`match_none`: no document."""

    name = "match_none"

    def __init__(self, body: Any) -> None:
        expect_object("match_none", body or {})

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        return tantivy.Query.empty_query()

    def describe(self, ctx: QueryContext) -> str:
        return "MatchNoDocsQuery(\"\")"


def _required(text: str) -> Explanation:
    """A matching filter clause: it takes part in the match, not in the score."""
    return expl(0.0, "match on required clause, product of:",
                [expl(0.0, "# clause"), expl(1.0, text)])


def max_of(parts: list[Explanation], tie: float) -> Explanation | None:
    """Lucene's disjunction-max explanation: the best part plus `tie` times the others."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    values = [np.float32(p["value"]) for p in parts]
    best = max(values)
    total = best + np.float32(tie) * (sum(values, np.float32(0.0)) - best)
    return expl(f32(total), "max of:" if tie == 0.0 else
                f"max plus {java_float(tie)} times others of:", parts)
