"""The `intervals` query: documents whose terms form the intervals a rule describes (terms in
order, within a gap limit, containing or before others...), scored as Lucene's IntervalQuery."""

from __future__ import annotations

from typing import Any

import tantivy

from ..errors import ParsingError
from ..index.analysis import tokens
from ..index.fulltext import FIELD_NAMES, KEY
from .base import QueryContext, QueryNode, as_float, expect_object, query_shard_error
from .interval_rules import (
    RULE_NAMES,
    FieldPositions,
    Leaf,
    PatternLeaf,
    Positions,
    Rule,
    RuleContext,
    TermLeaf,
    parse_rule,
)

_POSITION_GAP = 100  # Elasticsearch's default position_increment_gap between array values
_TEXT_TYPES = ("text", "match_only_text")


class IntervalsQuery(QueryNode):
    """`{"intervals": {"<field>": {"<rule>": {...}, "boost": .., "_name": ..}}}`.

    The rule is evaluated on the term positions of each candidate document (the documents
    holding a term some rule leaf accepts); a matching document scores
    `boost * freq / (freq + 1)`, where freq sums 1/width over the rule's minimal intervals,
    as Lucene's IntervalScorer with its default saturation (pivot 1).
    """

    name = "intervals"

    def __init__(self, body: Any) -> None:
        body = expect_object(self.name, body)
        if len(body) != 1:
            raise ParsingError(f"[{self.name}] query doesn't support multiple fields, found "
                               f"[{', '.join(map(str, body))}]" if body else
                               f"[{self.name}] query requires a field")
        [(self.field, inner)] = body.items()
        inner = expect_object(self.name, inner)
        rules = {k: v for k, v in inner.items() if k not in ("boost", "_name")}
        unknown = [k for k in rules if k not in RULE_NAMES]
        if unknown:
            raise ParsingError(f"Unknown interval type [{unknown[0]}]")
        if len(rules) != 1:
            raise ParsingError("No rules specified for field [" + self.field + "]" if not rules
                               else f"Only one interval rule can be specified, found "
                               f"[{', '.join(rules)}]")
        self.rule_body = rules
        self.boost = as_float(self.name, inner.get("boost", 1.0))
        self.query_name = inner.get("_name")
        # parse once with the standard analyzer: structural errors surface before any index
        parse_rule(self.rule_body, RuleContext(self.field, lambda f, a: a or "standard",
                                               tokens))

    def rule(self, ctx: QueryContext) -> Rule:
        """The rule built with the analyzers of this index's fields."""
        def analyzer(path: str, override: str | None) -> str:
            spec = ctx.spec(path)
            return override or (spec.search_analyzer if spec is not None else "standard")
        return parse_rule(self.rule_body, RuleContext(self.field, analyzer, tokens))

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        spec = ctx.spec(self.field)
        if spec is None:
            ctx.require_mapped(self.field)
            return tantivy.Query.empty_query()
        if spec.type not in _TEXT_TYPES:
            raise query_shard_error(f"Can only use interval queries on text fields - not on "
                                    f"[{self.field}] which is of type [{spec.type}]",
                                    ctx.index_name)
        rule = self.rule(ctx)
        scores = {key: self.boost * freq / (freq + 1.0)
                  for key, freq in _frequencies(ctx, rule).items()}
        if not scores:
            return tantivy.Query.empty_query()
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Should, tantivy.Query.const_score_query(
                tantivy.Query.term_query(ctx.schema, KEY, key), score))
            for key, score in scores.items()])

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        if path != self.field:
            return set()
        return {term for leaf in self.rule(ctx).leaves() if isinstance(leaf, TermLeaf)
                for term in leaf.terms}

    def describe(self, ctx: QueryContext) -> str:
        return f"IntervalQuery({self.field})"


def _candidate_query(ctx: QueryContext, leaves: list[Leaf]) -> tantivy.Query | None:
    """Documents holding a term one of the leaves accepts (a superset of the matches)."""
    subs: list[tantivy.Query] = []
    for leaf in leaves:
        path = leaf.use_field or leaf.field
        if ctx.kind(path) != "text":
            continue
        if isinstance(leaf, TermLeaf):
            subs.append(tantivy.Query.term_set_query(ctx.schema, path, sorted(leaf.terms)))
        elif isinstance(leaf, PatternLeaf) and leaf.regex is not None:
            subs.append(ctx.regex_query(leaf.kind, path, leaf.regex, leaf.regex))
        else:
            subs.append(tantivy.Query.term_query(ctx.schema, FIELD_NAMES, path))
    if not subs:
        return None
    return subs[0] if len(subs) == 1 else tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, q) for q in subs])


def _frequencies(ctx: QueryContext, rule: Rule) -> dict[int, float]:
    """key -> sum of 1/width over the rule's intervals, for every matching document."""
    query = _candidate_query(ctx, rule.leaves())
    if query is None:
        return {}
    fulltext = ctx.shard.fulltext
    count = fulltext.count(query)
    if not count:
        return {}
    hits = fulltext.searcher.search(query, count, count=False).hits
    keys = fulltext.searcher.fast_field_values(KEY, [addr for _, addr in hits])
    found: dict[int, float] = {}
    for key, doc in ctx.shard.store.by_seq_nos(keys).items():
        try:
            parsed = ctx.mapping.parse(ctx.source_of(doc), doc.id)
        except Exception:  # a stored document that no longer parses is not indexed either
            continue
        intervals = rule.intervals(_positions_reader(ctx, parsed.values))
        if intervals:
            found[key] = sum(1.0 / (end - start + 1) for start, end, _ in intervals)
    return found


def _positions_reader(ctx: QueryContext, values: dict[str, list[Any]]) -> FieldPositions:
    """A document's term positions per field, analyzed on first use (index analyzer, array
    values `position_increment_gap` apart)."""
    cache: dict[str, Positions] = {}

    def positions(path: str) -> Positions:
        if path not in cache:
            spec = ctx.spec(path)
            terms: Positions = {}
            if spec is not None and spec.type in _TEXT_TYPES:
                gap = int(spec.params.get("position_increment_gap", _POSITION_GAP))
                offset = 0
                for value in values.get(path, []):
                    last = -1
                    for term, position in tokens(spec.analyzer, str(value)):
                        terms.setdefault(term, []).append(offset + position)
                        last = position
                    offset += last + 1 + gap
            cache[path] = terms
        return cache[path]
    return positions
