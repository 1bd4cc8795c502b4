"""`script_score`: the inner query's matches scored by a script, as Elasticsearch's
`ScriptScoreQueryBuilder` does (exact kNN by `cosineSimilarity`, popularity by doc values).

The script is the Painless subset of `painless.py` (`lang` `painless` or `expression`). It sees
`_score` (the inner query's score), `params`, `doc['field']` (numeric, date, boolean and keyword
doc values; dense vectors for the vector functions). Its value times `boost` is the score;
documents below `min_score` are dropped and a negative value is an error, as in Elasticsearch.
As `function_score` does, the clause is evaluated when it compiles: each match becomes a
constant-score clause on its key holding the final score.
"""

from __future__ import annotations

import math
from typing import Any

import tantivy

from ..errors import BadRequest, ParsingError
from ..index.fulltext import KEY
from ..source_filter import source_values
from .base import QueryContext, QueryNode, as_float, keyed_scores
from .explanation import Explanation, expl, f32, tantivy_tree
from .painless import DocValues, Script

_LANGS = ("painless", "expression")


def parse_script(owner: str, spec: Any) -> tuple[Script, dict[str, Any]]:
    """A `script` object (or source string) of a query: the compiled script and its params."""
    if isinstance(spec, str):
        spec = {"source": spec}
    if not isinstance(spec, dict):
        raise ParsingError(f"[{owner}] script malformed, expected an object")
    for key in spec:
        if key not in ("source", "id", "params", "lang", "options"):
            raise ParsingError(f"[script] unknown field [{key}]")
    if "id" in spec:
        raise BadRequest(f"[{owner}] stored scripts (script.id) are not supported by the "
                         "embedded engine; inline the script's source")
    lang = spec.get("lang", "painless")
    if lang not in _LANGS:
        raise BadRequest(f"script_lang not supported [{lang}]")
    source = spec.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ParsingError("must specify either [source] for an inline script or [id] for a "
                           "stored script")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise ParsingError("[script] params must be an object")
    return Script(source), params


class _Doc(dict):  # type: ignore[type-arg]
    """`doc` of one document: field values read on first use, for every match at once."""

    def __init__(self, values: _Values, row: int) -> None:
        super().__init__()
        self.values, self.row = values, row

    def __missing__(self, field: str) -> DocValues:
        return DocValues(field, self.values.of(field)[self.row])


class _Values:
    """Doc values of the matched documents, per field, read once per field."""

    def __init__(self, ctx: QueryContext, keys: list[int], addresses: list[Any]) -> None:
        self.ctx, self.keys, self.addresses = ctx, keys, addresses
        self.fields: dict[str, list[list[Any]]] = {}
        self.vectors: dict[str, dict[int, list[float]]] = {}

    def of(self, field: str) -> list[list[Any]]:
        if field not in self.fields:
            self.fields[field] = self._read(field)
        return self.fields[field]

    def _read(self, field: str) -> list[list[Any]]:
        ctx = self.ctx
        spec = ctx.spec(field)
        if spec is None:
            raise BadRequest(f"No field found for [{field}] in mapping")
        if spec.type == "dense_vector":
            return [[vector] for vector in self._vectors(field)]
        if spec.type in ("text", "match_only_text"):
            raise BadRequest(f"Text fields are not optimised for operations that require "
                             f"per-document field data like aggregations and sorting, so these "
                             f"operations are disabled by default. Please use a keyword field "
                             f"instead. Alternatively, set fielddata=true on [{field}] in order "
                             f"to load field data by uninverting the inverted index.")
        if ctx.kind(field) in ("int", "float", "bool"):
            found = ctx.shard.fulltext.searcher.fast_field_values(field, self.addresses)
            return [[] if v is None else [v] for v in found]
        docs = ctx.shard.store.by_seq_nos(self.keys)
        path = ctx.mapping.source_path(field)
        return [source_values(ctx.source_of(docs[k]), path) if k in docs else []
                for k in self.keys]

    def _vectors(self, field: str) -> list[list[float] | None]:
        vectors = self.ctx.shard.vectors.get(field)
        found = vectors.vectors_of(self.keys) if vectors is not None else {}
        return [found.get(key) for key in self.keys]

    def vector(self, field: str, row: int) -> list[float]:
        spec = self.ctx.spec(field)
        if spec is None or spec.type != "dense_vector":
            raise BadRequest(f"field [{field}] is not a dense_vector field")
        values = self.of(field)[row]
        if not values or values[0] is None:
            raise ValueError(f"A document doesn't have a value for a vector field [{field}]!")
        return values[0]


class ScriptScoreQuery(QueryNode):
    """`script_score` (see the module docstring)."""

    name = "script_score"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = self.open(body, ("query", "script", "min_score"))
        if body.get("query") is None:
            raise ParsingError("[script_score] requires 'query' field")
        if body.get("script") is None:
            raise ParsingError("[script_score] requires 'script' field")
        self.query = parse_query(body["query"])
        self.script, self.params = parse_script("script_score", body["script"])
        self.min_score = as_float("script_score", body["min_score"], "min_score") \
            if body.get("min_score") is not None else None

    def _scores(self, ctx: QueryContext) -> tuple[list[int], list[float], list[float]]:
        """Keys, inner scores and script scores of the inner query's matches."""
        searcher = ctx.shard.fulltext.searcher
        inner = ctx.compiled(self.query)
        matches = ctx.shard.fulltext.count(inner)
        if matches == 0:
            return [], [], []
        hits = searcher.search(inner, matches, count=False).hits
        addresses = [a for _, a in hits]
        keys = [int(k) for k in searcher.fast_field_values(KEY, addresses)]
        values = _Values(ctx, keys, addresses)
        scores = []
        for row, (key, (score, _)) in enumerate(zip(keys, hits, strict=True)):
            result = self.script.run({
                "params": self.params, "_score": float(score), "doc": _Doc(values, row),
                "vector_of": lambda field, row=row: values.vector(field, row)})
            if isinstance(result, bool) or not isinstance(result, int | float) or \
                    math.isnan(result):
                raise BadRequest(f"script_score script returned an invalid score [{result}] "
                                 f"for doc [{key}]. Must be a non-negative score!")
            if result < 0:
                raise BadRequest(f"script_score script returned an invalid score "
                                 f"[{float(result)}] for doc [{key}]. Must be a non-negative "
                                 f"score!")
            scores.append(float(result))
        return keys, [float(s) for s, _ in hits], scores

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        keys, _, scores = self._scores(ctx)
        return keyed_scores(ctx.schema, [
            (key, score * self.boost) for key, score in zip(keys, scores, strict=True)
            if self.min_score is None or score * self.boost >= self.min_score])

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        tree = tantivy_tree(ctx, ctx.compiled(self), address)
        inner = self.query.explain(ctx, address)
        if tree is None or inner is None:
            return None
        value = f32(tree["value"] * boost)
        text = (f'script score function, computed with script:"Script{{type=inline, '
                f"lang='painless', idOrCode='{self.script.source}', options={{}}, "
                f'params={self.params}}}"')
        scored = expl(f32(tree["value"] / (self.boost or 1.0)), text, [inner])
        if self.boost * boost == 1.0:
            return scored
        return expl(value, "Boosted score, product of:",
                    [scored, expl(f32(self.boost * boost), "boost")])

    def knn_nodes(self) -> list[QueryNode]:
        return self.query.knn_nodes()

    def children(self) -> list[QueryNode]:
        return [self.query]
