"""Sibling pipeline aggregations (`sum_bucket`, `avg_bucket`, `min_bucket`, `max_bucket`,
`stats_bucket`): computed from the buckets of another aggregation once it has its results,
at any level, as Elasticsearch's reduce phase computes them."""

from __future__ import annotations

import math
from typing import Any

from ..errors import BadRequest, ParsingError

PIPELINES = {"sum_bucket", "avg_bucket", "min_bucket", "max_bucket", "stats_bucket"}
_KEYS = {"buckets_path", "gap_policy", "format"}
_GAP_POLICIES = {"skip", "insert_zeros", "keep_values"}
_META = ("aggs", "aggregations", "meta")


def kind_of(body: dict[str, Any]) -> str:
    return next(k for k in body if k not in _META)


def is_pipeline(body: dict[str, Any]) -> bool:
    return kind_of(body) in PIPELINES


def validate_pipeline(name: str, kind: str, body: dict[str, Any]) -> None:
    """The options Elasticsearch's BucketMetricsParser accepts."""
    spec = body[kind]
    if not isinstance(spec, dict):
        raise ParsingError(f"[{kind}] expects an object for aggregation [{name}]")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ParsingError(f"Unexpected token VALUE_STRING [{unknown[0]}] in [{name}].")
    path = spec.get("buckets_path")
    if not isinstance(path, str) or not path:
        raise ParsingError(f"Missing required field [buckets_path] for aggregation [{name}]")
    if spec.get("gap_policy", "skip") not in _GAP_POLICIES:
        raise ParsingError(f"Invalid gap policy: [{spec['gap_policy']}], accepted values: "
                           f"[skip, insert_zeros, keep_values]")
    if body.get("aggs") or body.get("aggregations"):
        raise BadRequest(f"Aggregator [{name}] of type [{kind}] cannot accept "
                         f"sub-aggregations")


def apply_pipelines(aggs: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """`result` (the aggregations of one level) with its pipelines computed, the pipelines
    inside every bucket's sub-aggregations first."""
    for name, body in aggs.items():
        if is_pipeline(body):
            continue
        sub = body.get("aggs", body.get("aggregations"))
        value = result.get(name)
        if sub and isinstance(value, dict):
            buckets = value.get("buckets", [])
            for bucket in buckets.values() if isinstance(buckets, dict) else buckets:
                apply_pipelines(sub, bucket)
    for name, body in aggs.items():
        if is_pipeline(body):
            kind = kind_of(body)
            result[name] = _compute(kind, body[kind], aggs, result)
    return result


def _bucket_values(spec: dict[str, Any], aggs: dict[str, Any], result: dict[str, Any]
                   ) -> list[tuple[Any, float | None]]:
    path = spec["buckets_path"]
    first, _, rest = path.partition(">")
    if first not in aggs or first not in result or is_pipeline(aggs[first]):
        raise BadRequest(f"No aggregation found for path [{path}]")
    buckets = result[first].get("buckets")
    if buckets is None or not rest:
        raise BadRequest(f"buckets_path must reference either a number value or a single value "
                         f"numeric metric aggregation, got: [{path}]")
    items = buckets.items() if isinstance(buckets, dict) else \
        ((b.get("key_as_string", b.get("key")), b) for b in buckets)
    return [(key, _resolve(bucket, rest, path)) for key, bucket in items]


def _resolve(bucket: dict[str, Any], rest: str, path: str) -> float | None:
    """A bucket's value for the rest of a path: `_count`, `metric`, `stats.avg`, `a>b`."""
    *parents, last = rest.split(">")
    node = bucket
    for part in parents:
        node = node.get(part)
        if not isinstance(node, dict):
            raise BadRequest(f"No aggregation found for path [{path}]")
    if last == "_count":
        return float(node.get("doc_count", 0))
    name, _, metric = last.partition(".")
    target = node.get(name)
    if not isinstance(target, dict):
        raise BadRequest(f"No aggregation found for path [{path}]")
    value = target.get(metric or "value")
    return None if value is None else float(value)


def _compute(kind: str, spec: dict[str, Any], aggs: dict[str, Any], result: dict[str, Any]
             ) -> dict[str, Any]:
    policy = spec.get("gap_policy", "skip")
    values: list[tuple[Any, float]] = []
    for key, value in _bucket_values(spec, aggs, result):
        if value is None or math.isnan(value):
            if policy != "insert_zeros":
                continue
            value = 0.0
        values.append((key, value))
    nums = [v for _, v in values]
    if kind == "sum_bucket":
        return {"value": float(sum(nums))}
    if kind == "avg_bucket":
        return {"value": sum(nums) / len(nums) if nums else None}
    if kind == "stats_bucket":
        return {"count": len(nums), "min": min(nums, default=None),
                "max": max(nums, default=None),
                "avg": sum(nums) / len(nums) if nums else None, "sum": float(sum(nums))}
    if not nums:
        return {"value": None, "keys": []}
    best = (min if kind == "min_bucket" else max)(nums)
    return {"value": best, "keys": [str(k) for k, v in values if v == best]}
