"""`function_score`: the inner query's scores changed by functions of each document.

Follows Elasticsearch's `FunctionScoreQuery`: functions (`weight`, `field_value_factor`,
`gauss`/`exp`/`linear` decay on numeric and date fields, `random_score`), each with an optional
`filter`, are combined by `score_mode` (multiply, sum, avg weighted by the functions' weights,
first, max, min; 1 when no function applies), capped by `max_boost`, and combined with the query
score by `boost_mode`; `min_score` drops documents below it. tantivy cannot score with Python
functions, so the clause is evaluated when it compiles: the inner query runs over the index and
each match becomes a constant-score clause on its key holding the final score, the way the kNN
clause joins a query. `random_score` is deterministic per seed and field value but its values
are not Elasticsearch's. `script_score` is refused (no scripting).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import tantivy

from ..dates import resolve_date_math
from ..errors import BadRequest, ParsingError
from ..index.fulltext import KEY
from ..source_filter import source_values
from .base import QueryContext, QueryNode, as_float, expect_object, keyed_scores
from .explanation import Explanation, expl, f32, tantivy_tree

_SCORE_MODES = ("multiply", "sum", "avg", "first", "max", "min")
_BOOST_MODES = ("multiply", "replace", "sum", "avg", "max", "min")
_DECAYS = ("gauss", "exp", "linear")
_FUNCTIONS = ("field_value_factor", "random_score", "script_score", *_DECAYS)
_MODIFIERS: dict[str, Callable[[float], float]] = {
    "none": lambda v: v, "log": lambda v: math.log10(v), "log1p": lambda v: math.log10(v + 1),
    "log2p": lambda v: math.log10(v + 2), "ln": math.log, "ln1p": lambda v: math.log(v + 1),
    "ln2p": lambda v: math.log(v + 2), "square": lambda v: v * v, "sqrt": math.sqrt,
    "reciprocal": lambda v: 1.0 / v,
}
_TIME_UNITS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000,
               "d": 86_400_000}
_TOP_KEYS = {"query", "functions", "score_mode", "boost_mode", "max_boost", "min_score", "boost",
             "_name", "filter", "weight", *_FUNCTIONS}


class ScoreFunction:
    """One entry of `functions`: an optional filter, a weight and at most one function."""

    def __init__(self, body: dict[str, Any]) -> None:
        from .registry import parse_query

        self.filter = parse_query(body["filter"]) if body.get("filter") is not None else None
        self.weight = as_float("function_score", body["weight"], "weight") \
            if body.get("weight") is not None else None
        kinds = [k for k in body if k in _FUNCTIONS]
        unknown = [k for k in body if k not in (*_FUNCTIONS, "filter", "weight")]
        if unknown:
            raise ParsingError(f"failed to parse [function_score] query. unknown function "
                               f"[{unknown[0]}]")
        if len(kinds) > 1:
            raise ParsingError(f"failed to parse function_score functions. already found "
                               f"[{kinds[0]}], now encountering [{kinds[1]}].")
        if not kinds and self.weight is None:
            raise ParsingError("failed to parse [function_score] query. an entry in functions "
                               "list is missing a function.")
        self.kind = kinds[0] if kinds else "weight"
        self.spec: dict[str, Any] = (body.get(self.kind) or {}) if kinds else {}
        if self.kind == "script_score":
            raise ParsingError("[script_score] functions are not supported by the embedded "
                               "engine (no scripting)")
        if not isinstance(self.spec, dict):
            raise ParsingError(f"[{self.kind}] malformed, expected an object")
        if self.kind == "field_value_factor":
            self._check_field_value_factor()
        elif self.kind in _DECAYS:
            self._check_decay()
        elif self.kind == "random_score":
            for key in self.spec:
                if key not in ("seed", "field"):
                    raise ParsingError(f"random_score query does not support [{key}]")

    def _check_field_value_factor(self) -> None:
        for key in self.spec:
            if key not in ("field", "factor", "modifier", "missing"):
                raise ParsingError(f"[field_value_factor] query does not support [{key}]")
        if "field" not in self.spec:
            raise ParsingError("[field_value_factor] required field 'field' missing")
        modifier = str(self.spec.get("modifier", "none")).lower()
        if modifier not in _MODIFIERS:
            raise ParsingError(f"Illegal modifier: {modifier}")

    def _check_decay(self) -> None:
        fields = [k for k in self.spec if k not in ("multi_value_mode",)]
        if len(fields) != 1:
            raise ParsingError(f"[{self.kind}] requires exactly one field")
        self.field = fields[0]
        params = self.spec[self.field]
        if not isinstance(params, dict) or "scale" not in params:
            raise ParsingError(f"[{self.kind}] must contain [scale]" if isinstance(params, dict)
                               else f"[{self.kind}] malformed field [{self.field}]")
        for key in params:
            if key not in ("origin", "scale", "offset", "decay"):
                raise ParsingError(f"[{self.kind}] unknown parameter [{key}]")
        decay = float(params.get("decay", 0.5))
        if not 0 < decay < 1:
            raise BadRequest(f"decay must be in the range [0..1]; got {decay}" if decay != 1
                             else "decay must be in the range (0..1)")
        mode = str(self.spec.get("multi_value_mode", "min")).lower()
        if mode not in ("min", "max", "avg", "sum"):
            raise ParsingError(f"Unknown MultiValueMode [{mode}]")

    # evaluation -------------------------------------------------------------------------
    def values(self, ctx: QueryContext, keys: list[int], addresses: list[Any]) -> list[float]:
        """The function's value (weight included) for each document."""
        weight = 1.0 if self.weight is None else self.weight
        if self.kind == "weight":
            return [weight] * len(keys)
        if self.kind == "field_value_factor":
            out = self._field_value_factor(ctx, addresses)
        elif self.kind == "random_score":
            out = self._random(ctx, keys)
        else:
            out = self._decay(ctx, addresses)
        return [v * weight for v in out]

    def _numbers(self, ctx: QueryContext, path: str, addresses: list[Any]) -> list[Any]:
        kind = ctx.kind(path)
        if kind not in ("int", "float", "bool"):
            spec = ctx.spec(path)
            if spec is None:
                return [None] * len(addresses)
            raise BadRequest(f"field [{path}] of type [{spec.type}] is not supported for "
                             f"[{self.kind}]; use a numeric or date field")
        return ctx.shard.fulltext.searcher.fast_field_values(path, addresses)

    def _field_value_factor(self, ctx: QueryContext, addresses: list[Any]) -> list[float]:
        spec = self.spec
        factor = float(spec.get("factor", 1.0))
        modifier = str(spec.get("modifier", "none")).lower()
        missing = spec.get("missing")
        out = []
        for value in self._numbers(ctx, spec["field"], addresses):
            if value is None:
                if missing is None:
                    raise BadRequest(f"Missing value for field [{spec['field']}]",
                                     error_type="exception")
                value = missing
            try:
                result = _MODIFIERS[modifier](float(value) * factor)
            except (ValueError, ZeroDivisionError):
                result = math.nan
            if math.isnan(result) or math.isinf(result):
                raise BadRequest(f"Result of field modification [{modifier}("
                                 f"{float(value) * factor})] must be a number",
                                 error_type="illegal_argument_exception")
            out.append(result)
        return out

    def _random(self, ctx: QueryContext, keys: list[int]) -> list[float]:
        from ..search.shard_order import murmur3_32

        seed = self.spec.get("seed")
        seed = int(seed) if isinstance(seed, int | float) else \
            (murmur3_32(str(seed).encode()) if seed is not None else 0)
        field = self.spec.get("field")
        if field is not None and field not in ("_seq_no", "_id"):
            docs = ctx.shard.store.by_seq_nos(keys)
            path = ctx.mapping.source_path(field)
            basis = [",".join(source_values(ctx.source_of(docs[k]), path)) if k in docs else ""
                     for k in keys]
        else:
            docs = ctx.shard.store.by_seq_nos(keys) if field == "_id" else {}
            basis = [docs[k].id if field == "_id" and k in docs else str(k) for k in keys]
        return [(murmur3_32(text.encode(), seed) & 0x00FFFFFF) / float(1 << 24)
                for text in basis]

    def _decay(self, ctx: QueryContext, addresses: list[Any]) -> list[float]:
        params = self.spec[self.field]
        mapped = ctx.spec(self.field)
        is_date = mapped is not None and mapped.type in ("date", "date_nanos")
        if is_date:
            origin = resolve_date_math(params.get("origin", "now"), mapped.date_format)
            scale, offset = _millis(params["scale"]), _millis(params.get("offset", "0ms"))
        else:
            if "origin" not in params:
                raise ParsingError(f"[{self.kind}] must contain [origin]")
            origin = float(params["origin"])
            scale, offset = float(params["scale"]), float(params.get("offset", 0))
        if scale <= 0:
            raise BadRequest(f"[{self.kind}] scale must be > 0")
        decay = float(params.get("decay", 0.5))
        out = []
        for value in self._numbers(ctx, self.field, addresses):
            distance = 0.0 if value is None else max(0.0, abs(float(value) - origin) - offset)
            if self.kind == "gauss":
                out.append(math.exp(distance * distance * math.log(decay) / (scale * scale)))
            elif self.kind == "exp":
                out.append(math.exp(distance * math.log(decay) / scale))
            else:
                out.append(max(0.0, 1.0 - distance * (1.0 - decay) / scale))
        return out


def _millis(value: Any) -> float:
    """A time value (`10d`, `3h`, `500ms`, or a number of milliseconds) in milliseconds."""
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)\s*", str(value))
    if m is None:
        raise ParsingError(f"failed to parse setting [scale] with value [{value}] as a time "
                           f"value: unit is missing or unrecognized")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


class FunctionScoreQuery(QueryNode):
    """`function_score` (see the module docstring)."""

    name = "function_score"

    def __init__(self, body: Any) -> None:
        from .registry import parse_query

        body = expect_object("function_score", body)
        for key in body:
            if key not in _TOP_KEYS:
                raise ParsingError(f"function_score query does not support [{key}]")
        self.query = parse_query(body["query"]) if body.get("query") is not None else \
            parse_query({"match_all": {}})
        inline = {k: body[k] for k in ("filter", "weight", *_FUNCTIONS) if k in body}
        if "functions" in body and inline:
            raise ParsingError(f"failed to parse [function_score] query. already found "
                               f"[functions] array, now encountering [{next(iter(inline))}]. "
                               f"use [functions] array if you want to define several "
                               f"functions.")
        items = body.get("functions", [inline] if inline else [])
        if not isinstance(items, list):
            raise ParsingError("[function_score] [functions] must be an array")
        self.functions = [ScoreFunction(expect_object("functions", f)) for f in items]
        self.score_mode = str(body.get("score_mode", "multiply")).lower()
        if self.score_mode not in _SCORE_MODES:
            raise ParsingError(f"failed to parse [function_score] query. illegal score_mode "
                               f"[{self.score_mode}]")
        self.boost_mode = str(body.get("boost_mode", "multiply")).lower()
        if self.boost_mode not in _BOOST_MODES:
            raise ParsingError(f"failed to parse [function_score] query. illegal boost_mode "
                               f"[{self.boost_mode}]")
        self.max_boost = as_float("function_score", body.get("max_boost", math.inf),
                                  "max_boost")
        self.min_score = as_float("function_score", body["min_score"], "min_score") \
            if body.get("min_score") is not None else None
        self.boost = as_float("function_score", body.get("boost", 1.0))
        self.query_name = body.get("_name")

    def compile(self, ctx: QueryContext) -> tantivy.Query:
        searcher = ctx.shard.fulltext.searcher
        inner = self.query.compile(ctx)
        matches = ctx.shard.fulltext.count(inner)
        if matches == 0:
            return tantivy.Query.empty_query()
        hits = searcher.search(inner, matches, count=False).hits
        addresses = [a for _, a in hits]
        keys = [int(k) for k in searcher.fast_field_values(KEY, addresses)]
        scores = [float(s) for s, _ in hits]
        applies = [self._filtered(ctx, f, keys) for f in self.functions]
        values = [f.values(ctx, keys, addresses) for f in self.functions]
        scored = []
        for i, (key, score) in enumerate(zip(keys, scores, strict=True)):
            factor = self._combine_functions([(v[i], f.weight) for f, v, ok in
                                              zip(self.functions, values, applies, strict=True)
                                              if ok is None or key in ok])
            final = _boost_mode(self.boost_mode, score, min(factor, self.max_boost))
            if self.min_score is not None and final < self.min_score:
                continue
            scored.append((key, final * self.boost))
        return keyed_scores(ctx.schema, scored)

    def explain(self, ctx: QueryContext, address: Any, boost: float = 1.0
                ) -> Explanation | None:
        tree = tantivy_tree(ctx, ctx.compiled(self), address)
        inner = self.query.explain(ctx, address)
        if tree is None or inner is None:
            return None
        [key] = [int(k) for k in ctx.shard.fulltext.searcher.fast_field_values(KEY, [address])]
        applied = []
        for function in self.functions:
            admitted = self._filtered(ctx, function, [key])
            if admitted is None or key in admitted:
                applied.append((function.values(ctx, [key], [address])[0], function.weight))
        factor = f32(self._combine_functions(applied))
        max_boost = f32(min(self.max_boost, FLOAT_MAX))
        functions = expl(min(factor, max_boost), "min of:", [
            expl(factor, f"function score, score mode [{self.score_mode}]"),
            expl(max_boost, "maxBoost")])
        value = f32(tree["value"] * boost)
        if self.boost_mode == "replace":
            return expl(value, "min of:", functions["details"])
        return expl(value, _MODE_TEXT[self.boost_mode], [inner, functions])

    def _filtered(self, ctx: QueryContext, function: ScoreFunction, keys: list[int]
                  ) -> set[int] | None:
        """Keys of the matches the function's filter admits (None: no filter)."""
        if function.filter is None:
            return None
        only = tantivy.Query.term_set_query(ctx.schema, KEY, keys)
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, function.filter.compile(ctx)),
                                             (tantivy.Occur.Must, only)])
        searcher = ctx.shard.fulltext.searcher
        hits = searcher.search(query, len(keys), count=False).hits
        return {int(k) for k in searcher.fast_field_values(KEY, [a for _, a in hits])}

    def _combine_functions(self, applied: list[tuple[float, float | None]]) -> float:
        """Elasticsearch's `score_mode` over the functions that apply (1 when none does)."""
        if not applied:
            return 1.0
        scores = [s for s, _ in applied]
        mode = self.score_mode
        if mode == "first":
            return scores[0]
        if mode == "max":
            return max(scores)
        if mode == "min":
            return min(scores)
        if mode == "multiply":
            return math.prod(scores)
        total = sum(scores)
        if mode == "avg":
            return total / sum(1.0 if w is None else w for _, w in applied)
        return total

    def highlight_terms(self, ctx: QueryContext, path: str) -> set[str]:
        return self.query.highlight_terms(ctx, path)

    def knn_nodes(self) -> list[QueryNode]:
        return self.query.knn_nodes()

    def children(self) -> list[QueryNode]:
        return [self.query]


def _boost_mode(mode: str, score: float, factor: float) -> float:
    if mode == "multiply":
        return score * factor
    if mode == "replace":
        return factor
    if mode == "sum":
        return score + factor
    if mode == "avg":
        return (score + factor) / 2.0
    if mode == "max":
        return max(score, factor)
    return min(score, factor)


FLOAT_MAX = 3.4028234663852886e38  # Java's Float.MAX_VALUE, the default max_boost
_MODE_TEXT = {"multiply": "function score, product of:", "sum": "sum of", "avg": "avg of",
              "max": "max of", "min": "min of"}
