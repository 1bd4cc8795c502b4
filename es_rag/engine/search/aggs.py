"""Aggregations over the indices of a search: terms, histogram and metrics (min, max, avg,
sum, value_count, cardinality, stats) computed by tantivy, the query-bucket aggregations of
bucket_aggs, date_histogram, significant_terms, percentiles, nested, and the sibling pipelines of
pipeline_aggs. Sub-aggregations tantivy cannot compute inside its buckets run per bucket."""

from __future__ import annotations

from typing import Any

import tantivy

from ..dates import NANOS_PER_MILLI, format_date
from ..errors import BadRequest, ParsingError
from ..limits import current as current_limits
from ..mustache import to_java_string
from ..query import parse_query
from ..query.base import QueryContext
from .agg_merge import merge_native
from .bucket_aggs import (
    NUMERIC_TYPES,
    QUERY_BUCKET_AGGS,
    Part,
    both,
    key_filter,
    run_bucket_agg,
    too_many_buckets,
    validate_bucket_agg,
)
from .date_histogram import run_date_histogram, validate_date_histogram
from .nested_aggs import (
    NESTED_AGGS,
    agg_kind,
    refuse_under_buckets,
    run_nested_agg,
    validate_nested_agg,
)
from .percentiles import PERCENTILE_AGGS, run_percentiles, validate_percentiles
from .pipeline_aggs import PIPELINES, apply_pipelines, validate_pipeline
from .significant_terms import run_significant_terms, validate_significant_terms

METRICS = {"min", "max", "avg", "sum", "value_count", "cardinality", "stats"}
NATIVE = METRICS | {"terms", "histogram"}  # computed by tantivy
_TERMS_KEYS = {"field", "size", "order", "min_doc_count", "shard_size", "missing"}
_HISTOGRAM_KEYS = {"field", "interval", "offset", "min_doc_count", "extended_bounds",
                   "hard_bounds", "keyed"}
_NOT_SERVED = ("top_hits", "composite",
               "auto_date_histogram", "rare_terms", "significant_text", "extended_stats",
               "weighted_avg", "median_absolute_deviation", "scripted_metric", "top_metrics",
               "geo_bounds", "multi_terms", "variable_width_histogram")


def validate_aggs(aggs: Any, depth: int = 1) -> None:
    """Refuse aggregation types and options this engine does not compute, sub-aggregations
    nested deeper than `engine.aggs.max_depth`, and a terms `size` beyond
    `search.max_buckets`; coerce values as Elasticsearch's parsers do (a number given as a
    string, one object where an array of objects is declared)."""
    limits = current_limits()
    if depth > limits.aggs_max_depth:
        raise BadRequest(f"The nested depth of the aggregations exceeds the maximum nested depth "
                         f"[{limits.aggs_max_depth}] set in [engine.aggs.max_depth]")
    if not isinstance(aggs, dict):
        raise ParsingError("Expected [START_OBJECT] under [aggregations]")
    for name, body in aggs.items():
        if not isinstance(body, dict):
            raise ParsingError(f"Expected [START_OBJECT] under [{name}]")
        kinds = [k for k in body if k not in ("aggs", "aggregations", "meta")]
        if len(kinds) != 1:
            raise ParsingError(f"Expected one aggregation type for [{name}], found {kinds}")
        kind = kinds[0]
        spec = body[kind]
        if "meta" in body and not isinstance(body["meta"], dict):
            raise ParsingError(f"Expected [START_OBJECT] under [meta], but got a "
                               f"[{_token(body['meta'])}] in [{name}]")
        sub = body.get("aggs", body.get("aggregations"))
        if kind in PIPELINES:
            validate_pipeline(name, kind, body)
            continue
        if kind == "terms":
            extra = set(spec) - _TERMS_KEYS
            if extra:
                raise ParsingError(f"[terms] unknown field [{sorted(extra)[0]}]")
            if _as_int(spec.get("size", 10)) > limits.max_buckets:
                raise too_many_buckets(limits.max_buckets)
        elif kind == "histogram":
            _validate_histogram(name, spec)
        elif kind in QUERY_BUCKET_AGGS:
            validate_bucket_agg(name, kind, spec, depth)
        elif kind in NESTED_AGGS:
            validate_nested_agg(name, kind, spec)
        elif kind in PERCENTILE_AGGS:
            validate_percentiles(name, kind, spec)
        elif kind == "significant_terms":
            validate_significant_terms(name, spec)
        elif kind == "date_histogram":
            validate_date_histogram(name, spec)
        elif kind not in METRICS:
            raise ParsingError(f"aggregation [{kind}] is not supported by the embedded engine"
                               if kind in _NOT_SERVED
                               else f"Unknown aggregation type [{kind}] did you mean [terms]?",
                               error_type="parsing_exception" if kind else None)
        elif "field" not in spec:
            raise ParsingError("Required one of fields [field, script], but none were "
                               "specified.", error_type="illegal_argument_exception")
        if sub is not None:
            if kind in METRICS or kind in PERCENTILE_AGGS:
                raise BadRequest(f"Aggregator [{name}] of type [{kind}] cannot accept "
                                 f"sub-aggregations",
                                 error_type="aggregation_initialization_exception")
            validate_aggs(sub, depth + 1)
            refuse_under_buckets(kind, sub)


def _validate_histogram(name: str, spec: Any) -> None:
    if not isinstance(spec, dict):
        raise ParsingError("Expected [START_OBJECT] under [histogram]")
    extra = sorted(set(spec) - _HISTOGRAM_KEYS)
    if extra:
        raise ParsingError(f"[histogram] option [{extra[0]}] is not supported by the embedded "
                           f"engine" if extra[0] in ("order", "missing", "format", "script")
                           else f"[histogram] unknown field [{extra[0]}]")
    if "field" not in spec:
        raise ParsingError("Required one of fields [field, script], but none were specified.",
                           error_type="illegal_argument_exception")
    interval = spec.get("interval")
    if isinstance(interval, str):  # Elasticsearch's number parsing coerces numeric strings
        try:
            interval = spec["interval"] = float(interval)
        except ValueError:
            raise ParsingError("[histogram] failed to parse field [interval]") from None
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
        raise BadRequest(f"[interval] must be >0 for histogram aggregation [{name}]")


def _token(value: Any) -> str:
    return "START_ARRAY" if isinstance(value, list) else "VALUE_STRING" \
        if isinstance(value, str) else "VALUE_NUMBER"


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise ParsingError(f"[size] must be an integer, found [{value}]") from err


def count_buckets(result: Any) -> int:
    """Buckets in an aggregations result, sub-aggregations' included."""
    if isinstance(result, list):
        return sum(count_buckets(item) for item in result)
    if not isinstance(result, dict):
        return 0
    total = 0
    for key, value in result.items():
        if key == "buckets":
            total += len(value)
        total += count_buckets(value)
    return total


def aggregate(parts: list[Part], aggs: dict[str, Any]) -> dict[str, Any]:
    """The search's aggregations over `parts` (one query per index), checked against
    `search.max_buckets`."""
    return check_buckets(run_aggs(parts, aggs))


def check_buckets(out: dict[str, Any]) -> dict[str, Any]:
    """Aggregation results, refused when they hold more than `search.max_buckets` buckets."""
    limit = current_limits().max_buckets
    if count_buckets(out) > limit:
        raise too_many_buckets(limit)
    return out


def run_aggs(parts: list[Part], aggs: dict[str, Any]) -> dict[str, Any]:
    """Aggregation results over the documents of `parts`, in the request's order."""
    native = {n: b for n, b in aggs.items() if agg_kind(b) in NATIVE}
    results = _run_native(parts, native) if native else {}
    for name, body in aggs.items():
        kind = agg_kind(body)
        if kind in QUERY_BUCKET_AGGS:
            results[name] = run_bucket_agg(parts, kind, body, run_aggs)
        elif kind in PERCENTILE_AGGS:
            results[name] = run_percentiles(parts, kind, body[kind])
        elif kind == "significant_terms":
            results[name] = run_significant_terms(parts, body, run_aggs)
        elif kind == "date_histogram":
            results[name] = run_date_histogram(parts, body, run_aggs)
        elif kind in NESTED_AGGS:
            results[name] = run_nested_agg(parts, body, run_aggs)
    out = {name: {"meta": aggs[name]["meta"], **results[name]} if "meta" in aggs[name] else
           results[name] for name in aggs if name in results}
    return apply_pipelines(aggs, out)


def _tantivy_able(body: dict[str, Any]) -> bool:
    """Whether tantivy computes this aggregation with all its sub-aggregations."""
    kind = agg_kind(body)
    if kind in PIPELINES:
        return True
    sub = body.get("aggs", body.get("aggregations")) or {}
    return kind in NATIVE and all(_tantivy_able(b) for b in sub.values())


def _run_native(parts: list[Part], aggs: dict[str, Any]) -> dict[str, Any]:
    """Terms and metrics by tantivy on each index (merged when there are several); the
    sub-aggregations tantivy cannot compute inside a terms or histogram bucket run over its
    documents."""
    single = len(parts) == 1
    for name, body in aggs.items():
        _check_order(name, body, single)
    per_index = []
    for ctx, query in parts:
        _check_fields(aggs, ctx)
        present = {n: b for n, b in aggs.items() if _field_present(ctx, b)}
        spec = _tantivy_spec(present, single)
        raw = ctx.shard.fulltext.searcher.aggregate(query, spec) if spec else {}
        result = {}
        for name, body in aggs.items():
            kind = agg_kind(body)
            kind = "stats" if kind == "avg" and not single else kind
            value = raw.get(name) if name in present else _empty(kind)
            result[name] = _finish(ctx, kind, body[agg_kind(body)], value)
        per_index.append(result)
    merged = per_index[0] if single else merge_native(aggs, per_index)
    for name, body in aggs.items():
        sub = body.get("aggs", body.get("aggregations")) or {}
        rest = {n: b for n, b in sub.items() if not (single and _tantivy_able(b))}
        kind = agg_kind(body)
        if rest and kind in ("terms", "histogram"):
            for bucket in merged[name]["buckets"]:
                bucket.update(run_aggs([(ctx, both(q, _bucket_filter(ctx, kind, body[kind],
                                                                     bucket["key"])))
                                        for ctx, q in parts], rest))
        if kind == "histogram" and body[kind].get("keyed") is True:
            merged[name] = {"buckets": {to_java_string(float(b["key"])): b
                                        for b in merged[name]["buckets"]}}
    return merged


def _check_order(name: str, body: dict[str, Any], single: bool) -> None:
    """Terms ordered by a sub-aggregation need tantivy to compute it: on one index, and a
    sub-aggregation tantivy computes."""
    order = body.get("terms", {}).get("order")
    for item in order if isinstance(order, list) else [order]:
        for path in item if isinstance(item, dict) else ():
            if path in ("_count", "_key", "_term"):
                continue
            sub = body.get("aggs", body.get("aggregations")) or {}
            target = sub.get(path.split(">")[0].split(".")[0])
            if not single or (target is not None and not _tantivy_able(target)):
                raise BadRequest(f"terms aggregation [{name}] ordered by [{path}] is not "
                                 f"supported by the embedded engine over several indices or "
                                 f"by this kind of sub-aggregation")


def _bucket_filter(ctx: QueryContext, kind: str, spec: dict[str, Any], key: Any
                   ) -> tantivy.Query:
    """The documents of one terms or histogram bucket."""
    field = str(spec["field"])
    if kind == "terms":
        return key_filter(ctx, field, key)
    if ctx.spec(field) is None:
        return tantivy.Query.empty_query()
    return parse_query({"range": {field: {"gte": key, "lt": key + float(spec["interval"])}}}
                       ).compile(ctx)


def _check_fields(aggs: dict[str, Any], ctx: QueryContext) -> None:
    for body in aggs.values():
        kind = agg_kind(body)
        if kind not in NATIVE:
            continue
        path = body[kind].get("field")
        spec = ctx.spec(path) if path else None
        if kind == "histogram" and spec is not None and spec.type not in NUMERIC_TYPES:
            raise BadRequest(f"Field [{path}] of type [{spec.type}] is not supported for "
                             f"aggregation [histogram]")
        if spec is not None and spec.type == "text":
            raise BadRequest(
                f"Fielddata is disabled on [{path}] in [{ctx.index_name}]. Text fields are "
                f"not optimised for operations that require per-document field data like "
                f"aggregations and sorting, so these operations are disabled by default. "
                f"Please use a keyword field instead.")
        sub = body.get("aggs", body.get("aggregations"))
        if sub:
            _check_fields(sub, ctx)


def _tantivy_spec(aggs: dict[str, Any], single: bool) -> dict[str, Any]:
    """Tantivy's request for `aggs`; with several indices no sub-aggregations (they run per
    merged bucket) and `avg` as stats (averages merge by count)."""
    out = {}
    for name, body in aggs.items():
        kind = agg_kind(body)
        if kind in PIPELINES:  # computed from the results (pipeline_aggs)
            continue
        spec = dict(body[kind])
        if kind == "histogram":
            spec.pop("keyed", None)  # keyed by Elasticsearch's key texts once merged
        if kind == "terms":
            spec.pop("shard_size", None)
            spec.setdefault("size", 10)
            order = spec.get("order")
            if isinstance(order, list):
                order = order[0] if order else None
            if order is not None:
                spec["order"] = order
        entry: dict[str, Any] = {"stats" if kind == "avg" and not single else kind: spec}
        sub = body.get("aggs", body.get("aggregations"))
        able = {n: b for n, b in (sub or {}).items() if _tantivy_able(b)}
        if able and single:
            entry["aggs"] = _tantivy_spec(able, single)
        out[name] = entry
    return out


def _field_present(ctx: QueryContext, body: dict[str, Any]) -> bool:
    kind = agg_kind(body)
    return ctx.kind(body[kind].get("field", "")) is not None


def _empty(kind: str) -> dict[str, Any]:
    if kind == "terms":
        return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []}
    if kind == "histogram":
        return {"buckets": []}
    if kind in ("value_count", "cardinality", "sum"):
        return {"value": 0}
    if kind == "stats":
        return {"count": 0, "min": None, "max": None, "avg": None, "sum": 0.0}
    return {"value": None}


def _finish(ctx: QueryContext, kind: str, spec: dict[str, Any], value: dict[str, Any]
            ) -> dict[str, Any]:
    field_spec = ctx.spec(spec.get("field", ""))
    is_date = field_spec is not None and field_spec.type in ("date", "date_nanos")
    # aggregations on date_nanos work in milliseconds, as in Elasticsearch
    to_millis = field_spec is not None and field_spec.type == "date_nanos"
    if kind == "terms":
        value.setdefault("doc_count_error_upper_bound", 0)
        value.setdefault("sum_other_doc_count", 0)
        for bucket in value.get("buckets", []):
            if to_millis:
                bucket["key"] = int(bucket["key"]) // NANOS_PER_MILLI
            if is_date:
                bucket["key_as_string"] = format_date(int(bucket["key"]))
            elif field_spec is not None and field_spec.type == "boolean":
                bucket["key_as_string"] = "true" if bucket["key"] else "false"
                bucket["key"] = 1 if bucket["key"] else 0
        return {"doc_count_error_upper_bound": value["doc_count_error_upper_bound"],
                "sum_other_doc_count": value["sum_other_doc_count"],
                "buckets": value.get("buckets", [])}
    if kind == "histogram":
        return {"buckets": value.get("buckets", [])}
    if kind in ("value_count", "cardinality"):
        return {"value": int(value.get("value") or 0)}
    if to_millis and kind in ("min", "max", "avg") and value.get("value") is not None:
        value["value"] = float(int(value["value"]) // NANOS_PER_MILLI)
    if is_date and kind in ("min", "max") and value.get("value") is not None:
        value["value_as_string"] = format_date(int(value["value"]))
    return value

