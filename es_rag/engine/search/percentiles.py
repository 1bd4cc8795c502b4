"""The `percentiles` and `percentile_ranks` aggregations, computed as Elasticsearch's default
TDigest computes them on up to 2000 values (its `SortingDigest`: every value kept and sorted,
quantiles interpolated between neighbours, ranks from the empirical CDF); beyond that the
engine stays exact where Elasticsearch approximates."""

from __future__ import annotations

from typing import Any

import tantivy

from ..dates import NANOS_PER_MILLI, render_date
from ..errors import BadRequest, ParsingError
from ..mustache import to_java_string
from ..query import parse_query
from ..query.base import QueryContext
from .bucket_aggs import NUMERIC_TYPES

Part = tuple[QueryContext, tantivy.Query]
PERCENTILE_AGGS = {"percentiles", "percentile_ranks"}
DEFAULT_PERCENTS = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0]
_KEYS = {"field", "keyed", "tdigest", "missing", "format"}
_ALL_VALUES = 2**31 - 1


def validate_percentiles(name: str, kind: str, spec: Any) -> None:
    """Elasticsearch's checks of `percents` (in [0, 100]) and `values` (not empty)."""
    if not isinstance(spec, dict):
        raise ParsingError(f"Expected [START_OBJECT] under [{kind}]")
    keys_name = "percents" if kind == "percentiles" else "values"
    unknown = sorted(set(spec) - _KEYS - {keys_name})
    if unknown:
        what = "HDR histograms" if unknown[0] == "hdr" else f"option [{unknown[0]}]"
        raise ParsingError(f"[{kind}] {what} not supported by the embedded engine"
                           if unknown[0] in ("hdr", "script") else
                           f"[{kind}] unknown field [{unknown[0]}]")
    if "field" not in spec:
        raise ParsingError("Required one of fields [field, script], but none were specified.",
                           error_type="illegal_argument_exception")
    if kind == "percentile_ranks" and keys_name not in spec:
        raise BadRequest(f"[values] must not be null: [{name}]")
    keys = spec.get(keys_name, DEFAULT_PERCENTS)
    if not isinstance(keys, list) or not keys:
        raise BadRequest(f"[{keys_name}] must not be empty: [{name}]")
    for key in keys:
        if not isinstance(key, int | float) or isinstance(key, bool):
            raise ParsingError(f"[{keys_name}] must hold numbers, found [{key}]")
        if kind == "percentiles" and not 0 <= key <= 100:
            raise BadRequest(f"percent must be in [0,100], got [{float(key)}]: [{name}]")


def run_percentiles(parts: list[Part], kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The percentiles (or ranks) of the field's values in the matching documents."""
    field = str(spec["field"])
    values = sorted(_field_values(parts, kind, field, spec.get("missing")))
    mapped = next((ctx.spec(field) for ctx, _ in parts if ctx.spec(field) is not None), None)
    date_format = None
    if "format" in spec and (mapped is None or mapped.type not in ("date", "date_nanos")):
        raise ParsingError(f"[{kind}] option [format] on numbers is not supported by the "
                           f"embedded engine")
    if mapped is not None and mapped.type in ("date", "date_nanos"):
        date_format = str(spec.get("format") or mapped.params.get("format") or
                          "strict_date_optional_time")
    keys = sorted(float(k) for k in spec.get(
        "percents" if kind == "percentiles" else "values", DEFAULT_PERCENTS))
    results = []
    for key in keys:
        value = None
        if values:
            value = quantile(key / 100, values) if kind == "percentiles" else \
                min(max(cdf(key, values), 0.0), 1.0) * 100
        results.append((key, value))
    keyed = spec.get("keyed", True) is not False
    if keyed:
        out: dict[str, Any] = {}
        for key, value in results:
            out[to_java_string(key)] = value
            if date_format and value is not None:
                out[f"{to_java_string(key)}_as_string"] = render_date(int(value), date_format)
        return {"values": out}
    listed = []
    for key, value in results:
        entry: dict[str, Any] = {"key": key, "value": value}
        if date_format and value is not None:
            entry["value_as_string"] = render_date(int(value), date_format)
        listed.append(entry)
    return {"values": listed}


def _field_values(parts: list[Part], kind: str, field: str, missing: Any) -> list[float]:
    """Every value of `field` in the documents of `parts` (a value per document holding it),
    `missing` standing in for documents without one."""
    values: list[float] = []
    for ctx, query in parts:
        spec = ctx.spec(field)
        if spec is not None and spec.type not in NUMERIC_TYPES | {"date", "date_nanos"}:
            raise BadRequest(f"Field [{field}] of type [{spec.type}] is not supported for "
                             f"aggregation [{kind}]")
        if ctx.kind(field) is not None:
            found = ctx.shard.fulltext.searcher.aggregate(
                query, {"v": {"terms": {"field": field, "size": _ALL_VALUES}}})
            scale = NANOS_PER_MILLI if spec is not None and spec.type == "date_nanos" else 1
            for b in found.get("v", {}).get("buckets", []):
                if isinstance(b["key"], int | float):
                    values.extend([float(b["key"] // scale if scale > 1 else b["key"])] *
                                  int(b["doc_count"]))
        if missing is not None:
            absent = tantivy.Query.boolean_query([
                (tantivy.Occur.Must, query),
                (tantivy.Occur.MustNot, parse_query({"exists": {"field": field}}).compile(ctx))])
            values.extend([float(missing)] * ctx.shard.fulltext.count(absent))
    return values


def quantile(q: float, values: list[float]) -> float:
    """The `q` quantile of sorted values, interpolated between the two nearest ranks."""
    index = q * (len(values) - 1)
    if index <= 0:
        return values[0]
    if index >= len(values) - 1:
        return values[-1]
    low = int(index)
    weight = index - low
    return values[low] + weight * (values[low + 1] - values[low])


def cdf(x: float, values: list[float]) -> float:
    """The rank of `x` among sorted values as TDigest's `Dist.cdf` gives it: the first value
    and values equal to `x` count half, linear between the neighbours around `x`."""
    if x < values[0]:
        return 0.0
    n = len(values)
    below, equal = 0.5, 0
    for i in range(1, n):
        value = values[i]
        if value > x:
            if equal:
                return (below + 0.5 * equal) / n
            previous = values[i - 1]
            return (below + (x - previous) / (value - previous)) / n
        if value < x:
            below += 1
        else:
            equal += 1
    return (n - 0.5 * equal) / n
