"""`typed_keys`: aggregation names prefixed with their result type (`sterms#by_name`), as
Elasticsearch names them so clients can parse each result into its class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..index.mapping import FLOAT_TYPES, INTEGER_TYPES, FieldSpec
from .nested_aggs import agg_kind

# result type per aggregation (InternalAggregation.getWriteableName / getType)
_TYPES = {"sum_bucket": "simple_value", "avg_bucket": "simple_value",
          "min_bucket": "bucket_metric_value", "max_bucket": "bucket_metric_value",
          "cumulative_sum": "simple_value", "bucket_script": "simple_value",
          "percentiles": "tdigest_percentiles",
          "percentile_ranks": "tdigest_percentile_ranks", "date_range": "date_range",
          "date_histogram": "date_histogram", "histogram": "histogram"}
_LONG_TERMS = INTEGER_TYPES | {"date", "date_nanos", "boolean"}


def typed_aggregations(requested: dict[str, Any], results: dict[str, Any],
                       spec_of: Callable[[str], FieldSpec | None]) -> dict[str, Any]:
    """The aggregation results with each name as `type#name` (sub-aggregations too)."""
    out: dict[str, Any] = {}
    for name, value in results.items():
        body = requested.get(name)
        if not isinstance(body, dict):
            out[name] = value
            continue
        kind = agg_kind(body)
        sub = body.get("aggs", body.get("aggregations"))
        if sub and isinstance(value, dict):
            value = _inside(value, sub, spec_of)
        out[f"{_type_name(kind, body[kind], spec_of)}#{name}"] = value
    return out


def _inside(value: dict[str, Any], sub: dict[str, Any],
            spec_of: Callable[[str], FieldSpec | None]) -> dict[str, Any]:
    """A single-bucket result (its sub-aggregations beside doc_count) or a multi-bucket one
    (sub-aggregations in each bucket, buckets as a list or keyed)."""
    out = dict(value)
    named = {k: v for k, v in value.items() if k in sub}
    for key in named:
        del out[key]
    out.update(typed_aggregations(sub, named, spec_of))
    buckets = value.get("buckets")
    if isinstance(buckets, list):
        out["buckets"] = [_inside(b, sub, spec_of) if isinstance(b, dict) else b
                          for b in buckets]
    elif isinstance(buckets, dict):
        out["buckets"] = {k: _inside(b, sub, spec_of) if isinstance(b, dict) else b
                          for k, b in buckets.items()}
    return out


def _type_name(kind: str, spec: Any, spec_of: Callable[[str], FieldSpec | None]) -> str:
    if kind == "terms":  # by the field's type; an unmapped field gives string terms
        field = spec_of(str(spec.get("field"))) if isinstance(spec, dict) else None
        if field is not None and field.type in _LONG_TERMS:
            return "lterms"
        if field is not None and field.type in FLOAT_TYPES:
            return "dterms"
        return "sterms"
    if kind == "significant_terms":  # numbers and dates give long terms
        field = spec_of(str(spec.get("field"))) if isinstance(spec, dict) else None
        return "siglterms" if field is not None and field.type in _LONG_TERMS else "sigsterms"
    return _TYPES.get(kind, kind)
