"""The `significant_terms` aggregation: the field's terms more frequent in the matching
documents than in the index (the background, which document-level security also narrows),
scored by JLH (default) or `percentage`, as Elasticsearch's reduce scores the summed counts."""

from __future__ import annotations

from typing import Any

import tantivy

from ..dates import NANOS_PER_MILLI, format_date
from ..errors import BadRequest, ParsingError
from ..query import parse_query
from ..query.base import QueryContext
from .bucket_aggs import Part, RunParts, both, doc_count, key_filter

_KEYS = {"field", "size", "shard_size", "min_doc_count", "shard_min_doc_count", "jlh",
         "percentage", "background_filter", "execution_hint"}
_UNSUPPORTED = {"include", "exclude", "script", "mutual_information", "chi_square", "gnd",
                "script_heuristic"}
_ALL_TERMS = 2**31 - 1


def validate_significant_terms(name: str, spec: Any) -> None:
    if not isinstance(spec, dict):
        raise ParsingError("Expected [START_OBJECT] under [significant_terms]")
    for key in spec:
        if key in _UNSUPPORTED:
            raise ParsingError(f"[significant_terms] option [{key}] is not supported by the "
                               f"embedded engine")
        if key not in _KEYS:
            raise ParsingError(f"[significant_terms] unknown field [{key}]")
    if "field" not in spec:
        raise ParsingError("Required one of fields [field, script], but none were specified.",
                           error_type="illegal_argument_exception")
    if "jlh" in spec and "percentage" in spec:
        raise ParsingError(f"Found two significance heuristics in [{name}]: [jlh] and "
                           f"[percentage]")
    for option in ("size", "min_doc_count"):
        value = spec.get(option, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadRequest(f"[{option}] must be greater than or equal to 0. Found [{value}] "
                             f"in [{name}]")
    if "background_filter" in spec:
        parse_query(spec["background_filter"])


def run_significant_terms(parts: list[Part], body: dict[str, Any], run: RunParts
                          ) -> dict[str, Any]:
    spec = body["significant_terms"]
    sub = body.get("aggs", body.get("aggregations")) or {}
    field = str(spec["field"])
    if not any(ctx.spec(field) is not None for ctx, _ in parts):
        return {"buckets": []}
    background = [(ctx, _background(ctx, spec)) for ctx, _ in parts]
    subset_size, superset_size = doc_count(parts), doc_count(background)
    subset_df: dict[Any, int] = {}
    for ctx, query in parts:
        mapped = ctx.spec(field)
        if mapped is not None and mapped.type == "text":
            raise BadRequest(f"Field [{field}] of type [text] is not supported for aggregation "
                             f"[significant_terms]")
        if ctx.kind(field) is None:
            continue
        found = ctx.shard.fulltext.searcher.aggregate(
            query, {"t": {"terms": {"field": field, "size": _ALL_TERMS}}})
        nanos = mapped is not None and mapped.type == "date_nanos"  # keys in milliseconds
        for b in found.get("t", {}).get("buckets", []):
            key = int(b["key"]) // NANOS_PER_MILLI if nanos else b["key"]
            subset_df[key] = subset_df.get(key, 0) + int(b["doc_count"])
    min_count = int(spec.get("min_doc_count", 3))
    percentage = "percentage" in spec
    scored = []
    for key, df in subset_df.items():
        if df < min_count:
            continue
        bg = doc_count([(ctx, both(q, key_filter(ctx, field, key))) for ctx, q in background])
        score = _percentage(df, bg) if percentage else \
            jlh(df, subset_size, bg, superset_size)
        if score > 0:
            scored.append((score, key, df, bg))
    scored.sort(key=lambda s: (-s[0], str(s[1])))
    dated = any(ctx.spec(field) is not None and ctx.spec(field).type in ("date", "date_nanos")
                for ctx, _ in parts)
    buckets = []
    for score, key, df, bg in scored[:int(spec.get("size", 10))]:
        entry: dict[str, Any] = {"key": key}
        if dated:
            entry["key_as_string"] = format_date(int(key))
        entry.update({"doc_count": df, "score": score, "bg_count": bg})
        if sub:
            entry.update(run([(ctx, both(q, key_filter(ctx, field, key)))
                              for ctx, q in parts], sub))
        buckets.append(entry)
    return {"doc_count": subset_size, "bg_count": superset_size, "buckets": buckets}


def _background(ctx: QueryContext, spec: dict[str, Any]) -> tantivy.Query:
    """The background set of one index: what the reader may see, narrowed by
    `background_filter`."""
    base = ctx.alias_filter or tantivy.Query.all_query()
    if "background_filter" in spec:
        return both(base, parse_query(spec["background_filter"]).compile(ctx))
    return base


def jlh(subset_freq: int, subset_size: int, superset_freq: int, superset_size: int) -> float:
    """JLH: the absolute times the relative change of a term's probability."""
    if subset_size == 0 or superset_size == 0:
        return 0.0
    superset_freq = superset_freq or 1  # a background that is not a superset
    subset_p = subset_freq / subset_size
    superset_p = superset_freq / superset_size
    change = subset_p - superset_p
    if change <= 0:
        return 0.0
    return change * (subset_p / superset_p)


def _percentage(subset_freq: int, superset_freq: int) -> float:
    return subset_freq / superset_freq if superset_freq else 0.0
