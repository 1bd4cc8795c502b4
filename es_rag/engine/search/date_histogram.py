"""The `date_histogram` aggregation: buckets of a calendar interval (minute ... year, in UTC)
or a fixed one (`90m`, `2d`), from the earliest to the latest date of the matching documents,
each counted and sub-aggregated over its documents in every index, as Elasticsearch
returns them (`key` in milliseconds, `key_as_string` in the field's format)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import tantivy

from ..dates import NANOS_PER_MILLI, render_date
from ..errors import BadRequest, ParsingError
from ..limits import current as current_limits
from ..query import parse_query
from ..query.base import QueryContext
from .bucket_aggs import Part, RunParts, bucket, too_many_buckets

_KEYS = {"field", "calendar_interval", "fixed_interval", "format", "min_doc_count", "keyed",
         "time_zone"}
_CALENDAR = {"minute": "m", "1m": "m", "hour": "h", "1h": "h", "day": "d", "1d": "d",
             "week": "w", "1w": "w", "month": "M", "1M": "M", "quarter": "q", "1q": "q",
             "year": "y", "1y": "y"}
_FIXED = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def validate_date_histogram(name: str, spec: Any) -> None:
    if not isinstance(spec, dict):
        raise ParsingError("Expected [START_OBJECT] under [date_histogram]")
    for key in spec:
        if key not in _KEYS:
            raise ParsingError(f"[date_histogram] option [{key}] is not supported by the "
                               f"embedded engine" if key in ("offset", "extended_bounds",
                                                             "hard_bounds", "order", "missing",
                                                             "script", "interval")
                               else f"[date_histogram] unknown field [{key}]")
    if "field" not in spec:
        raise ParsingError("Required one of fields [field, script], but none were specified.",
                           error_type="illegal_argument_exception")
    if ("calendar_interval" in spec) == ("fixed_interval" in spec):
        raise BadRequest("Invalid interval specified, must be non-null and non-empty" if
                         "calendar_interval" not in spec else
                         "Cannot use [fixed_interval] with [calendar_interval] configuration "
                         "option.")
    if "calendar_interval" in spec and str(spec["calendar_interval"]) not in _CALENDAR:
        raise BadRequest(f"The supplied interval [{spec['calendar_interval']}] could not be "
                         f"parsed as a calendar interval.")
    if "fixed_interval" in spec and not _FIXED.match(str(spec["fixed_interval"])):
        raise BadRequest(f"failed to parse setting [date_histogram.fixedInterval] with value "
                         f"[{spec['fixed_interval']}] as a time value: unit is missing or "
                         f"unrecognized")
    if str(spec.get("time_zone", "UTC")) not in ("UTC", "Z", "+00:00", "Etc/UTC", "GMT"):
        raise BadRequest("[date_histogram] with a [time_zone] other than UTC is not supported "
                         "by the embedded engine")


def run_date_histogram(parts: list[Part], body: dict[str, Any], run: RunParts
                       ) -> dict[str, Any]:
    spec = body["date_histogram"]
    sub = body.get("aggs", body.get("aggregations")) or {}
    field = str(spec["field"])
    mapped = next((ctx.spec(field) for ctx, _ in parts if ctx.spec(field) is not None), None)
    if mapped is not None and mapped.type not in ("date", "date_nanos"):
        raise BadRequest(f"Field [{field}] of type [{mapped.type}] is not supported for "
                         f"aggregation [date_histogram]")
    fmt = str(spec.get("format") or (mapped.params.get("format") if mapped else None) or
              "strict_date_optional_time")
    bounds = _bounds(parts, field)
    if bounds is None:
        return {"buckets": []}
    starts = _starts(spec, *bounds)
    limit = current_limits().max_buckets
    if len(starts) > limit + 1:
        raise too_many_buckets(limit)
    min_count = int(spec.get("min_doc_count", 0))
    out = []
    for start, end in zip(starts, starts[1:], strict=False):
        def make(ctx: QueryContext, start: int = start, end: int = end) -> tantivy.Query:
            if ctx.spec(field) is None:
                return tantivy.Query.empty_query()
            return parse_query({"range": {field: {"gte": start, "lt": end,
                                                  "format": "epoch_millis"}}}).compile(ctx)

        found = bucket(parts, make, sub, run)
        if found["doc_count"] >= min_count:
            out.append({"key_as_string": render_date(start, fmt), "key": start, **found})
    if spec.get("keyed") is True:
        return {"buckets": {b["key_as_string"]: b for b in out}}
    return {"buckets": out}


def _bounds(parts: list[Part], field: str) -> tuple[int, int] | None:
    """The earliest and latest date (milliseconds) of `field` in the documents of `parts`."""
    low: int | None = None
    high: int | None = None
    for ctx, query in parts:
        if ctx.kind(field) is None:
            continue
        stats = ctx.shard.fulltext.searcher.aggregate(query, {"s": {"stats": {"field": field}}})
        found = stats.get("s", {})
        if not found.get("count"):
            continue
        mapped = ctx.spec(field)
        scale = NANOS_PER_MILLI if mapped is not None and mapped.type == "date_nanos" else 1
        first, last = int(found["min"]) // scale, int(found["max"]) // scale
        low = first if low is None else min(low, first)
        high = last if high is None else max(high, last)
    return None if low is None or high is None else (low, high)


def _starts(spec: dict[str, Any], low: int, high: int) -> list[int]:
    """Bucket starts from the one holding `low` to the one after the one holding `high`."""
    if "fixed_interval" in spec:
        fixed = _FIXED.match(str(spec["fixed_interval"]))
        assert fixed is not None  # validated
        step = int(fixed.group(1)) * _UNIT_MS[fixed.group(2)]
        first = low - low % step
        return list(range(first, high + step + 1, step))[:current_limits().max_buckets + 2]
    unit = _CALENDAR[str(spec["calendar_interval"])]
    moment = _floor(datetime.fromtimestamp(low / 1000, UTC), unit)
    starts = []
    while True:
        millis = int(moment.timestamp() * 1000)
        starts.append(millis)
        if millis > high or len(starts) > current_limits().max_buckets + 1:
            return starts
        moment = _next(moment, unit)


def _floor(moment: datetime, unit: str) -> datetime:
    moment = moment.replace(microsecond=0)
    if unit == "m":
        return moment.replace(second=0)
    if unit == "h":
        return moment.replace(minute=0, second=0)
    day = moment.replace(hour=0, minute=0, second=0)
    if unit == "d":
        return day
    if unit == "w":  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    if unit == "M":
        return day.replace(day=1)
    if unit == "q":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    return day.replace(day=1, month=1)


def _next(moment: datetime, unit: str) -> datetime:
    simple = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
              "w": timedelta(weeks=1)}
    if unit in simple:
        return moment + simple[unit]
    months = {"M": 1, "q": 3, "y": 12}[unit]
    month = moment.month - 1 + months
    return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
