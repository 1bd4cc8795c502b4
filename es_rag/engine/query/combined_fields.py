"""`combined_fields`: BM25F over several text fields, as Lucene's `CombinedFieldQuery`.

Each query term is scored as if the fields were one field: the term frequency is the sum over
fields of `boost × tf`, the document length the sum of `boost × length` (Lucene's one-byte
approximate lengths), the document frequency the largest of the fields', the average length the
boosted sum of the fields' total lengths over the largest field document count; the score is
Elasticsearch's BM25 of those with the index's default similarity (k1=1.2, b=0.75 unless
`index.similarity.default` tunes them; the (k1+1) factor included). Fields with a similarity of
their own, or a default similarity other than BM25, are refused as in Elasticsearch. Terms
combine as `match` does (`operator`, `minimum_should_match`, `zero_terms_query`). tantivy has no
BM25F, so the clause is evaluated when it compiles, from tantivy's per-field statistics (its
`explain` of each field's term query), and each match becomes a constant-score clause on its
key. One difference remains: tantivy counts every document of the index as `N` in the IDF where
Lucene counts the documents that have the field. Fields must be text fields sharing one search
analyzer, as in Elasticsearch.
"""

from __future__ import annotations

import json
import math
from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.analysis import analyze
from ..index.fulltext import FIELD_NAMES, KEY
from ..source_filter import source_values
from .base import (
    QueryContext,
    QueryNode,
    as_float,
    check_keys,
    expect_object,
    minimum_should_match,
)
from .explanation import Explanation, expl, f32, tantivy_tree
from .full_text import analyzer_for, parse_field_boosts, query_terms

_KEYS = {"query", "fields", "operator", "minimum_should_match", "zero_terms_query",
         "auto_generate_synonyms_phrase_query", "boost", "_name"}


def _stats(explanation: dict[str, Any]) -> dict[str, float]:
    """freq, dl, avgdl, n and N from a tantivy term-query explanation."""
    out: dict[str, float] = {}

    def walk(node: dict[str, Any]) -> None:
        name = node.get("description", "").split(",")[0]
        if name in ("freq", "dl", "avgdl", "n", "N"):
            out[name] = float(node["value"])
        for child in node.get("details", []):
            walk(child)
    walk(explanation)
    return out


class CombinedFieldsQuery(QueryNode):
    """`combined_fields` (see the module docstring)."""

    name = "combined_fields"

    def __init__(self, body: Any) -> None:
        body = expect_object("combined_fields", body)
        check_keys("combined_fields", body, _KEYS)
        if "query" not in body:
            raise ParsingError("[combined_fields] requires 'query' field")
        fields = body.get("fields")
        if not fields:
            raise ParsingError("[combined_fields] requires 'fields' field")
        self.fields = parse_field_boosts([fields] if isinstance(fields, str) else fields)
        for name, boost in self.fields:
            if boost < 1.0:
                raise ParsingError(f"[combined_fields] requires field boosts to be >= 1.0, "
                                   f"found [{boost}] for [{name}]")
        self.operator = str(body.get("operator", "or")).lower()
        if self.operator not in ("or", "and"):
            raise ParsingError(f"[combined_fields] query does not support [operator] value "
                               f"[{self.operator}]")
        self.body = body
        self.boost = as_float("combined_fields", body.get("boost", 1.0))
        self.query_name = body.get("_name")

    def _expanded(self, ctx: QueryContext) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for name, boost in self.fields:
            for path in ctx.expand_fields(name):
                spec = ctx.spec(path)
                if spec is None or ("*" in name and spec.type != "text"):
                    continue
                if spec.type != "text":
                    raise BadRequest(f"Field [{path}] of type [{spec.type}] does not support "
                                     f"[combined_fields] queries")
                if ctx.kind(path) == "text":
                    out.append((path, boost))
        for path, _ in out:
            if ctx.spec(path) is not None and "similarity" in ctx.spec(path).params:
                raise BadRequest("[combined_fields] queries cannot be used with per-field "
                                 "similarities")
        if out and ctx.similarity(out[0][0]).type != "BM25":
            raise BadRequest("[combined_fields] queries can only be used with the [BM25] "
                             "similarity")
        analyzers = {analyzer_for(ctx, p, None) for p, _ in out}
        if len(analyzers) > 1:
            raise BadRequest("All fields in [combined_fields] query must have the same search "
                             "analyzer")
        return out

    def _terms(self, ctx: QueryContext, fields: list[tuple[str, float]]) -> list[str]:
        return list(dict.fromkeys(query_terms(analyzer_for(ctx, fields[0][0], None),
                                              self.body["query"])))

    def describe(self, ctx: QueryContext) -> str:
        fields = self._expanded(ctx)
        terms = self._terms(ctx, fields) if fields else []
        return f"CombinedFieldQuery(({' '.join(p for p, _ in fields)})({' '.join(terms)}))"

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        tree = tantivy_tree(ctx, ctx.compiled(self), address)
        if tree is None:
            return None
        return expl(f32(tree["value"] * boost), f"weight({self.describe(ctx)} in {address.doc}) "
                                                f"[PerFieldSimilarity], result of BM25F")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        fields = self._expanded(ctx)
        if not fields:
            return tantivy.Query.empty_query()
        terms = self._terms(ctx, fields)
        if not terms:
            if str(self.body.get("zero_terms_query", "none")).lower() == "all":
                return tantivy.Query.const_score_query(tantivy.Query.all_query(), self.boost)
            return tantivy.Query.empty_query()
        searcher = ctx.shard.fulltext.searcher
        per_term = [tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(ctx.schema, p, t))
             for p, _ in fields]) for t in terms]
        occur = tantivy.Occur.Must if self.operator == "and" else tantivy.Occur.Should
        required = 0 if self.operator == "and" else minimum_should_match(
            self.body.get("minimum_should_match"), len(terms))
        matching = tantivy.Query.boolean_query([(occur, q) for q in per_term],
                                               minimum_number_should_match=required or None)
        count = ctx.shard.fulltext.count(matching)
        if count == 0:
            return tantivy.Query.empty_query()
        hits = searcher.search(matching, count, count=False).hits
        keys = [int(k) for k in searcher.fast_field_values(KEY, [a for _, a in hits])]
        scores = dict.fromkeys(keys, 0.0)
        only = tantivy.Query.term_set_query(ctx.schema, KEY, keys)
        for term in terms:
            self._score_term(ctx, fields, term, only, scores)
        clauses = [(tantivy.Occur.Should, tantivy.Query.const_score_query(
            tantivy.Query.term_query(ctx.schema, KEY, key), score * self.boost))
            for key, score in scores.items()]
        return tantivy.Query.boolean_query(clauses)

    def _score_term(self, ctx: QueryContext, fields: list[tuple[str, float]], term: str,
                    only: tantivy.Query, scores: dict[int, float]) -> None:
        """Add one term's BM25F score to each document containing it in any field."""
        searcher = ctx.shard.fulltext.searcher
        freq: dict[int, float] = {}
        length: dict[int, float] = {}
        doc_freq = 0.0
        for path, boost in fields:
            query = tantivy.Query.term_query(ctx.schema, path, term)
            hits = searcher.search(tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)]), len(scores),
                count=False).hits
            addresses = [a for _, a in hits]
            keys = searcher.fast_field_values(KEY, addresses)
            for key, address in zip(keys, addresses, strict=True):
                stats = _stats(json.loads(query.explain(searcher, address).to_json()))
                doc_freq = max(doc_freq, stats["n"])
                freq[int(key)] = freq.get(int(key), 0.0) + boost * stats["freq"]
        if not freq:
            return
        total_docs = 0.0
        sum_lengths = 0.0
        for path, boost in fields:
            self._add_lengths(ctx, path, boost, list(freq), length)
            avg, docs = _field_stats(ctx, path)
            total_docs = max(total_docs, docs)
            sum_lengths += boost * avg * docs
        avgdl = sum_lengths / total_docs if total_docs else 1.0
        idf = math.log(1 + (total_docs - doc_freq + 0.5) / (doc_freq + 0.5))
        similarity = ctx.similarity(fields[0][0])
        k1, b = similarity.k1, similarity.b
        for key, tf in freq.items():
            norm = k1 * (1 - b + b * length.get(key, 0.0) / avgdl)
            scores[key] += (k1 + 1) * idf * tf / (tf + norm)

    @staticmethod
    def _add_lengths(ctx: QueryContext, path: str, boost: float, keys: list[int],
                     length: dict[int, float]) -> None:
        """Add each document's approximate length of `path`, boosted, to `length`."""
        searcher = ctx.shard.fulltext.searcher
        only = tantivy.Query.term_set_query(ctx.schema, KEY, keys)
        hits = searcher.search(tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.term_query(ctx.schema, FIELD_NAMES, path)),
             (tantivy.Occur.Must, only)]), len(keys), count=False).hits
        addresses = [a for _, a in hits]
        for key, address in zip(searcher.fast_field_values(KEY, addresses), addresses,
                                strict=True):
            # any term query on the field reports the document's length in its explanation
            probe = _first_term(ctx, path, address)
            if probe is None:
                continue
            stats = _stats(json.loads(tantivy.Query.term_query(ctx.schema, path, probe)
                                      .explain(searcher, address).to_json()))
            length[int(key)] = length.get(int(key), 0.0) + boost * stats.get("dl", 0.0)

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        fields = self._expanded(ctx)
        if all(path != p for p, _ in fields):
            return set()
        return set(self._terms(ctx, fields))


def _first_term(ctx: QueryContext, path: str, address: Any) -> str | None:
    """A term the document holds in `path` (read from its source and analyzed)."""
    searcher = ctx.shard.fulltext.searcher
    [key] = searcher.fast_field_values(KEY, [address])
    doc = ctx.shard.store.by_seq_nos([int(key)]).get(int(key))
    if doc is None:
        return None
    analyzer = analyzer_for(ctx, path, None)
    for text in source_values(ctx.source_of(doc), path):
        terms = analyze(analyzer, text)
        if terms:
            return terms[0]
    return None


def _field_stats(ctx: QueryContext, path: str) -> tuple[float, float]:
    """(average length, number of documents) of a field, as tantivy's BM25 uses them."""
    searcher = ctx.shard.fulltext.searcher
    having = tantivy.Query.term_query(ctx.schema, FIELD_NAMES, path)
    for _, address in searcher.search(having, 20, count=False).hits:
        probe = _first_term(ctx, path, address)
        if probe is not None:
            stats = _stats(json.loads(tantivy.Query.term_query(ctx.schema, path, probe)
                                      .explain(searcher, address).to_json()))
            return stats["avgdl"], stats["N"]
    return 0.0, 0.0
