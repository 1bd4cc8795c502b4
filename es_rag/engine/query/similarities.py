"""Term and phrase queries scored with their field's similarity.

tantivy scores BM25 with k1=1.2 and b=0.75 only. A field whose similarity is `boolean` gets a
constant score (the query boost); a field whose BM25 has other `k1`/`b` is scored here, at
compile time, with Lucene's arithmetic (`engine.similarity`): each matching document's
frequency and decoded length come from tantivy's explanation of the query, the collection
statistics from the index (documents having the field, their token total), and the document
becomes a constant-score clause on its key. Either way the compiled query keeps the original
query with boost 0 as its first clause: `explanation.py` recognizes it and explains the score
with the field's parameters.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

import tantivy

from ..index.fulltext import FIELD_NAMES, KEY
from ..index.similarity import Similarity, TermStats, bm25_score

if TYPE_CHECKING:
    from ..index.shard import Shard


class QueryContext(Protocol):
    """What scoring reads of the query context (`query.base.QueryContext` is one)."""

    shard: Shard
    schema: tantivy.Schema
    similarity_cache: dict[str, int]

    def similarity(self, path: str) -> Similarity:
        """The similarity a field scores with."""


def scored_term(ctx: QueryContext, path: str, term: Any) -> tantivy.Query:
    """A term query on `path` scored with the field's similarity."""
    query = tantivy.Query.term_query(ctx.schema, path, term)
    return _scored(ctx, path, query, [str(term)])


def scored_phrase(ctx: QueryContext, path: str, words: list[tuple[int, str]], slop: int
                  ) -> tantivy.Query:
    """A phrase query on `path` scored with the field's similarity."""
    query = tantivy.Query.phrase_query(ctx.schema, path, words, slop=slop)
    return _scored(ctx, path, query, [w for _, w in words])


def _scored(ctx: QueryContext, path: str, query: tantivy.Query, terms: list[str]
            ) -> tantivy.Query:
    similarity = ctx.similarity(path)
    if similarity.is_default_bm25:
        return query
    if similarity.type == "boolean":
        return _explainable(query, tantivy.Query.const_score_query(query, 1.0))
    searcher = ctx.shard.fulltext.searcher
    count = ctx.shard.fulltext.count(query)
    if count == 0:
        return query
    addresses = [a for _, a in searcher.search(query, count, count=False).hits]
    keys = searcher.fast_field_values(KEY, addresses)
    clauses = []
    stats: TermStats | None = None
    no_norms = ctx.shard.fulltext.kinds.get(path) == "keyword"  # Lucene reads length 1 then
    for key, address in zip(keys, addresses, strict=True):
        found = tree_values(json.loads(query.explain(searcher, address).to_json()))
        if stats is None:
            stats = term_stats(ctx, path, terms, found.get("avgdl", 0.0))
        dl = 1 if no_norms else int(found.get("dl", 1))
        score = bm25_score(similarity, stats, found.get("freq", 0.0), dl)
        clauses.append((tantivy.Occur.Should, tantivy.Query.const_score_query(
            tantivy.Query.term_query(ctx.schema, KEY, int(key)), score)))
    return _explainable(query, tantivy.Query.boolean_query(clauses))


def _explainable(query: tantivy.Query, scores: tantivy.Query) -> tantivy.Query:
    """`scores` for the documents `query` matches, with `query` kept at boost 0 so that its
    explanation (frequencies, lengths) stays in the compiled query's."""
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Must, tantivy.Query.boost_query(query, 0.0)),
        (tantivy.Occur.Must, scores)])


def tree_values(tree: dict[str, Any]) -> dict[str, float]:
    """freq, dl, avgdl, n, N: the first of each in tantivy's BM25 explanation tree."""
    found: dict[str, float] = {}

    def walk(node: dict[str, Any]) -> None:
        found.setdefault(node.get("description", "").split(",")[0], node.get("value", 0.0))
        for child in node.get("details") or []:
            walk(child)
    walk(tree)
    return found


def term_stats(ctx: QueryContext, path: str, terms: list[str], tantivy_avgdl: float
               ) -> TermStats:
    """Lucene's statistics of `terms` in `path`: documents having the field (`docCount`), its
    token total (`sumTotalTermFreq`, read back from tantivy's average over all documents) and
    each term's document frequency."""
    fulltext = ctx.shard.fulltext
    cache = ctx.similarity_cache
    if path not in cache:
        cache[path] = fulltext.count(tantivy.Query.term_query(ctx.schema, FIELD_NAMES, path))
    total = round(tantivy_avgdl * fulltext.searcher.num_docs)
    return TermStats(cache[path], total, tuple(fulltext.searcher.doc_freq(path, t)
                                               for t in terms))
