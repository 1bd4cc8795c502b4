"""Merging the per-index results of the aggregations tantivy computes (terms and metrics)
into one, as Elasticsearch's reduce phase merges its shards' results."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from .nested_aggs import agg_kind


def merge_native(spec: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per aggregation of `spec` from each index's result (`avg` and `stats`
    arrive as stats, so their averages weigh each index by its count)."""
    out: dict[str, Any] = {}
    for name, body in spec.items():
        kind = agg_kind(body)
        values = [p[name] for p in parts]
        if kind == "terms":
            out[name] = _merge_terms(body[kind], values)
        elif kind == "histogram":
            out[name] = _merge_histogram(body[kind], values)
        elif kind in ("min", "max"):
            nums = [v["value"] for v in values if v.get("value") is not None]
            out[name] = {"value": (min if kind == "min" else max)(nums) if nums else None}
            strings = [v for v in values if v.get("value") == out[name]["value"] and
                       "value_as_string" in v]
            if strings:
                out[name]["value_as_string"] = strings[0]["value_as_string"]
        elif kind in ("sum", "value_count"):
            out[name] = {"value": sum(v.get("value") or 0 for v in values)}
        elif kind in ("avg", "stats"):
            stats = _merge_stats(values)
            out[name] = stats if kind == "stats" else {"value": stats["avg"]}
        else:
            raise BadRequest(f"[{kind}] over several indices is not supported by the embedded "
                             f"engine")
    return out


def _merge_terms(spec: dict[str, Any], values: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[Any, dict[str, Any]] = {}
    for v in values:
        for b in v["buckets"]:
            merged = counts.setdefault(b["key"], {**b, "doc_count": 0})
            merged["doc_count"] += b["doc_count"]
    size = int(spec.get("size", 10))
    order = spec.get("order") or {"_count": "desc"}
    order = order[0] if isinstance(order, list) and order else order
    (what, direction), = order.items() if isinstance(order, dict) and len(order) == 1 else \
        [("_count", "desc")]
    if what in ("_key", "_term"):
        buckets = sorted(counts.values(), key=lambda b: b["key"],
                         reverse=direction == "desc")
    else:
        buckets = sorted(counts.values(), key=lambda b: (
            b["doc_count"] if direction == "asc" else -b["doc_count"], str(b["key"])))
    min_count = int(spec.get("min_doc_count", 1))
    buckets = [b for b in buckets if b["doc_count"] >= min_count]
    return {"doc_count_error_upper_bound": 0,
            "sum_other_doc_count": sum(b["doc_count"] for b in buckets[size:]) +
            sum(v["sum_other_doc_count"] for v in values),
            "buckets": buckets[:size]}


def _merge_histogram(spec: dict[str, Any], values: list[dict[str, Any]]) -> dict[str, Any]:
    """Buckets summed by key; with `min_doc_count` 0 the gaps between the first and the last
    bucket filled with empty ones, as Elasticsearch's reduce fills them."""
    counts: dict[float, int] = {}
    for v in values:
        for b in v["buckets"]:
            counts[float(b["key"])] = counts.get(float(b["key"]), 0) + int(b["doc_count"])
    min_count = int(spec.get("min_doc_count", 0))
    if min_count == 0 and counts:
        interval, first = float(spec["interval"]), min(counts)
        steps = {round((key - first) / interval) for key in counts}
        for step in range(max(steps) + 1):
            if step not in steps:
                counts[first + step * interval] = 0
    return {"buckets": [{"key": key, "doc_count": count} for key, count in sorted(counts.items())
                        if count >= min_count]}


def _merge_stats(values: list[dict[str, Any]]) -> dict[str, Any]:
    count = sum(int(v.get("count") or 0) for v in values)
    total = sum(float(v.get("sum") or 0) for v in values)
    mins = [v["min"] for v in values if v.get("min") is not None]
    maxs = [v["max"] for v in values if v.get("max") is not None]
    return {"count": count, "min": min(mins) if mins else None,
            "max": max(maxs) if maxs else None, "avg": total / count if count else None,
            "sum": total}
