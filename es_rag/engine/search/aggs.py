"""Aggregations (terms, min, max, avg, sum, value_count, cardinality, stats) via tantivy,
`filters` (one count per filter query), and the sibling pipelines of pipeline_aggs."""

from __future__ import annotations

from typing import Any

import tantivy

from ..dates import NANOS_PER_MILLI, format_date
from ..errors import BadRequest, EngineError, ParsingError
from ..limits import current as current_limits
from ..query import parse_query
from ..query.base import QueryContext
from .nested_aggs import (
    NESTED_AGGS,
    agg_kind,
    refuse_under_buckets,
    run_nested_agg,
    validate_nested_agg,
)
from .pipeline_aggs import PIPELINES, apply_pipelines, is_pipeline, validate_pipeline

METRICS = {"min", "max", "avg", "sum", "value_count", "cardinality", "stats"}
_TERMS_KEYS = {"field", "size", "order", "min_doc_count", "shard_size", "missing"}


def validate_aggs(aggs: Any, depth: int = 1) -> None:
    """Refuse aggregation types and options this engine does not compute, sub-aggregations
    nested deeper than `engine.aggs.max_depth`, and a terms `size` beyond
    `search.max_buckets`."""
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
        if kind in PIPELINES:
            validate_pipeline(name, kind, body)
            continue
        if kind == "terms":
            extra = set(spec) - _TERMS_KEYS
            if extra:
                raise ParsingError(f"[terms] unknown field [{sorted(extra)[0]}]")
            if _as_int(spec.get("size", 10)) > limits.max_buckets:
                raise too_many_buckets(limits.max_buckets)
        elif kind == "filters":
            _validate_filters(name, body, spec)
            continue
        elif kind in NESTED_AGGS:
            validate_nested_agg(name, kind, spec)
        elif kind not in METRICS:
            raise ParsingError(f"aggregation [{kind}] is not supported by the embedded engine"
                               if kind in ("date_histogram", "histogram", "range",
                                           "top_hits", "significant_terms",
                                           "percentiles", "composite", "filter")
                               else f"Unknown aggregation type [{kind}] did you mean [terms]?",
                               error_type="parsing_exception" if kind else None)
        elif "field" not in spec:
            raise ParsingError("Required one of fields [field, script], but none were "
                               "specified.", error_type="illegal_argument_exception")
        sub = body.get("aggs", body.get("aggregations"))
        if sub is not None:
            validate_aggs(sub, depth + 1)
            refuse_under_buckets(kind, sub)


def too_many_buckets(limit: int) -> EngineError:
    """Elasticsearch's refusal of a response holding more than `search.max_buckets` buckets."""
    return EngineError(f"Trying to create too many buckets. Must be less than or equal to: "
                       f"[{limit}] but this number of buckets was exceeded. This limit can be set "
                       f"by changing the [search.max_buckets] cluster level setting.",
                       status=400, error_type="too_many_buckets_exception", max_buckets=limit)


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


def _validate_filters(name: str, body: dict[str, Any], spec: Any) -> None:
    if not isinstance(spec, dict) or not isinstance(spec.get("filters"), dict | list):
        raise ParsingError(f"[filters] aggregation [{name}] needs a [filters] object or array")
    extra = set(spec) - {"filters"}
    if extra:
        raise ParsingError(f"[filters] option [{sorted(extra)[0]}] is not supported by the "
                           f"embedded engine")
    if body.get("aggs") or body.get("aggregations"):
        raise ParsingError("sub-aggregations of [filters] are not supported by the embedded "
                           "engine")
    filters = spec["filters"]
    for query in filters.values() if isinstance(filters, dict) else filters:
        parse_query(query)


def _filters_buckets(ctx: QueryContext, query: tantivy.Query, spec: dict[str, Any]
                     ) -> dict[str, Any]:
    """One `doc_count` per filter: documents matching both the search query and the filter."""
    def count(filter_body: dict[str, Any]) -> dict[str, int]:
        both = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, query),
            (tantivy.Occur.Must, parse_query(filter_body).compile(ctx))])
        return {"doc_count": ctx.shard.fulltext.count(both)}

    filters = spec["filters"]
    if isinstance(filters, dict):
        return {"buckets": {key: count(body) for key, body in filters.items()}}
    return {"buckets": [count(body) for body in filters]}


def _check_fields(aggs: dict[str, Any], ctx: QueryContext) -> None:
    for body in aggs.values():
        kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
        if kind == "filters" or kind in NESTED_AGGS:
            continue
        path = body[kind].get("field")
        spec = ctx.spec(path) if path else None
        if spec is not None and spec.type == "text":
            raise BadRequest(
                f"Fielddata is disabled on [{path}] in [{ctx.index_name}]. Text fields are "
                f"not optimised for operations that require per-document field data like "
                f"aggregations and sorting, so these operations are disabled by default. "
                f"Please use a keyword field instead.")
        sub = body.get("aggs", body.get("aggregations"))
        if sub:
            _check_fields(sub, ctx)


def _tantivy_spec(aggs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, body in aggs.items():
        kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
        if kind in PIPELINES:  # computed from the results (pipeline_aggs)
            continue
        spec = dict(body[kind])
        if kind == "terms":
            spec.pop("shard_size", None)
            spec.setdefault("size", 10)
            order = spec.get("order")
            if isinstance(order, list):
                order = order[0] if order else None
            if order is not None:
                spec["order"] = order
        entry: dict[str, Any] = {kind: spec}
        sub = body.get("aggs", body.get("aggregations"))
        if sub:
            entry["aggs"] = _tantivy_spec(sub)
        out[name] = entry
    return out


def run_aggs(ctx: QueryContext, query: tantivy.Query, aggs: dict[str, Any]) -> dict[str, Any]:
    """Aggregation results over the documents matching `query` on one index."""
    _check_fields(aggs, ctx)
    spec_aggs = aggs
    filters = {n: b["filters"] for n, b in aggs.items() if "filters" in b}
    nested = {n: b for n, b in aggs.items() if agg_kind(b) in NESTED_AGGS}
    aggs = {n: b for n, b in aggs.items()
            if n not in filters and n not in nested and not is_pipeline(b)}
    present = {n: b for n, b in aggs.items() if _field_present(ctx, b)}
    result = ctx.shard.fulltext.searcher.aggregate(query, _tantivy_spec(present)) \
        if present else {}
    out = {}
    for name, body in aggs.items():
        kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
        value = result.get(name) if name in present else _empty(kind)
        out[name] = _finish(ctx, kind, body[kind], value)
    for name, spec in filters.items():
        out[name] = _filters_buckets(ctx, query, spec)
    for name, body in nested.items():
        out[name] = run_nested_agg(ctx, query, body, run_aggs)
    out = apply_pipelines(spec_aggs, out)
    limit = current_limits().max_buckets
    if count_buckets(out) > limit:
        raise too_many_buckets(limit)
    return out


def _field_present(ctx: QueryContext, body: dict[str, Any]) -> bool:
    kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
    return ctx.kind(body[kind].get("field", "")) is not None


def _empty(kind: str) -> dict[str, Any]:
    if kind == "terms":
        return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []}
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
    if kind in ("value_count", "cardinality"):
        return {"value": int(value.get("value") or 0)}
    if to_millis and kind in ("min", "max", "avg") and value.get("value") is not None:
        value["value"] = float(int(value["value"]) // NANOS_PER_MILLI)
    if is_date and kind in ("min", "max") and value.get("value") is not None:
        value["value_as_string"] = format_date(int(value["value"]))
    return value


def merge_aggs(spec: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, body in spec.items():
        kind = next(k for k in body if k not in ("aggs", "aggregations", "meta"))
        if kind in PIPELINES:
            continue
        values = [p[name] for p in parts]
        if kind == "terms":
            counts: dict[Any, dict[str, Any]] = {}
            for v in values:
                for b in v["buckets"]:
                    merged = counts.setdefault(b["key"], {**b, "doc_count": 0})
                    merged["doc_count"] += b["doc_count"]
            size = int(body[kind].get("size", 10))
            buckets = sorted(counts.values(), key=lambda b: (-b["doc_count"], str(b["key"])))
            out[name] = {"doc_count_error_upper_bound": 0,
                         "sum_other_doc_count": sum(b["doc_count"] for b in buckets[size:]) +
                         sum(v["sum_other_doc_count"] for v in values),
                         "buckets": buckets[:size]}
        elif kind in ("min", "max"):
            nums = [v["value"] for v in values if v.get("value") is not None]
            out[name] = {"value": (min if kind == "min" else max)(nums) if nums else None}
        elif kind in ("sum", "value_count"):
            out[name] = {"value": sum(v.get("value") or 0 for v in values)}
        elif kind == "filters":
            first = values[0]["buckets"]
            keys = list(first) if isinstance(first, dict) else range(len(first))
            buckets = {key: {"doc_count": sum(v["buckets"][key]["doc_count"] for v in values)}
                       for key in keys}
            out[name] = {"buckets": buckets if isinstance(first, dict) else list(
                buckets.values())}
        else:
            raise BadRequest(f"[{kind}] over several indices is not supported by the embedded "
                             f"engine")
    return apply_pipelines(spec, out)
