"""Bucket aggregations whose buckets are queries: `filter`, `filters`, `missing`, `global`,
`range`, `date_range`, `ip_range` and `sampler`. Each bucket counts its documents in every
index of the search and runs its sub-aggregations over them, as Elasticsearch's reduce would
combine them."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import tantivy

from ..dates import DEFAULT_FORMAT, render_date, resolve_date_math
from ..errors import BadRequest, EngineError, ParsingError
from ..index.fulltext import KEY
from ..index.mapping import FLOAT_TYPES, INTEGER_TYPES
from ..mustache import to_java_string
from ..query import parse_query
from ..query.base import QueryContext

Part = tuple[QueryContext, tantivy.Query]  # one index of the search: its context and query
RunParts = Callable[[list[Part], dict[str, Any]], dict[str, Any]]

QUERY_BUCKET_AGGS = {"filter", "filters", "missing", "global", "range", "date_range",
                     "ip_range", "sampler"}
_KEYS = {"filters": {"filters", "other_bucket", "other_bucket_key", "keyed"},
         "missing": {"field"}, "global": set(), "sampler": {"shard_size"},
         "range": {"field", "ranges", "keyed", "format"},
         "date_range": {"field", "ranges", "keyed", "format", "time_zone"},
         "ip_range": {"field", "ranges", "keyed"}}
NUMERIC_TYPES = INTEGER_TYPES | FLOAT_TYPES
_UTC = {"UTC", "Z", "+00:00", "Etc/UTC", "GMT"}


def too_many_buckets(limit: int) -> EngineError:
    """Elasticsearch's refusal of a response holding more than `search.max_buckets` buckets."""
    return EngineError(f"Trying to create too many buckets. Must be less than or equal to: "
                       f"[{limit}] but this number of buckets was exceeded. This limit can be set "
                       f"by changing the [search.max_buckets] cluster level setting.",
                       status=400, error_type="too_many_buckets_exception", max_buckets=limit)


def both(query: tantivy.Query, other: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, query),
                                        (tantivy.Occur.Must, other)])


def doc_count(parts: list[Part]) -> int:
    return sum(ctx.shard.fulltext.count(query) for ctx, query in parts)


def validate_bucket_agg(name: str, kind: str, spec: Any, depth: int) -> None:
    """The options Elasticsearch's parsers accept for these aggregations."""
    if kind == "filter":
        parse_query(spec)
        return
    if not isinstance(spec, dict):
        raise ParsingError(f"Expected [START_OBJECT] under [{kind}]")
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown and unknown[0] in ("missing", "script", "value_type"):
        raise ParsingError(f"[{kind}] option [{unknown[0]}] is not supported by the embedded "
                           f"engine")
    if unknown:
        raise ParsingError(f"[{kind}] unknown field [{unknown[0]}]")
    if kind == "global" and depth > 1:
        raise BadRequest(f"Aggregation [{name}] of type [global] cannot be a sub-aggregation",
                         error_type="aggregation_initialization_exception")
    if kind == "filters":
        filters = spec.get("filters")
        if not isinstance(filters, dict | list):
            raise ParsingError(f"[filters] aggregation [{name}] needs a [filters] object or "
                               f"array")
        if not filters:
            raise BadRequest("[filters] cannot be empty.")
        for query in filters.values() if isinstance(filters, dict) else filters:
            parse_query(query)
    elif kind in ("missing", "range", "date_range", "ip_range") and "field" not in spec:
        raise ParsingError("Required one of fields [field, script], but none were specified.",
                           error_type="illegal_argument_exception")
    if kind in ("range", "date_range", "ip_range"):
        ranges = spec.get("ranges")
        if isinstance(ranges, dict):  # an object array declared in Elasticsearch takes one
            ranges = spec["ranges"] = [ranges]
        if not isinstance(ranges, list) or not ranges:
            raise BadRequest(f"No [ranges] specified for the [{name}] aggregation")
        allowed = {"key", "from", "to"} | ({"mask"} if kind == "ip_range" else set())
        for item in ranges:
            extra = sorted(set(item) - allowed) if isinstance(item, dict) else []
            if not isinstance(item, dict) or extra:
                raise ParsingError(f"[range] unknown field [{extra[0] if extra else item}]")
        if kind == "date_range" and str(spec.get("time_zone", "UTC")) not in _UTC:
            raise BadRequest("[date_range] with a [time_zone] other than UTC is not supported "
                             "by the embedded engine")
    if kind == "sampler" and int(spec.get("shard_size", 100)) < 1:
        raise BadRequest(f"[shard_size] must be greater than 0. Found [{spec['shard_size']}] "
                         f"in [{name}]")


def run_bucket_agg(parts: list[Part], kind: str, body: dict[str, Any], run: RunParts
                   ) -> dict[str, Any]:
    """The result of one of these aggregations over the search's indices."""
    spec = body[kind]
    sub = body.get("aggs", body.get("aggregations")) or {}
    if kind == "filter":
        node = parse_query(spec)
        return bucket(parts, node.compile, sub, run)
    if kind == "filters":
        return _filters(parts, spec, sub, run)
    if kind == "missing":
        present = parse_query({"exists": {"field": spec["field"]}})
        return bucket(parts, lambda ctx: _none_of([present.compile(ctx)]), sub, run)
    if kind == "global":
        every = [(ctx, ctx.alias_filter or tantivy.Query.all_query()) for ctx, _ in parts]
        return {"doc_count": doc_count(every), **(run(every, sub) if sub else {})}
    if kind == "sampler":
        sampled = [(ctx, _top_docs(ctx, query, int(spec.get("shard_size", 100))))
                   for ctx, query in parts]
        return {"doc_count": doc_count(sampled), **(run(sampled, sub) if sub else {})}
    if kind == "ip_range":
        return _ip_ranges(parts, spec, sub, run)
    return _ranges(parts, kind, spec, sub, run)


def bucket(parts: list[Part], make: Callable[[QueryContext], tantivy.Query],
           sub: dict[str, Any], run: RunParts) -> dict[str, Any]:
    """One bucket: the documents of `parts` that `make`'s query (per index) also matches."""
    inner = [(ctx, both(query, make(ctx))) for ctx, query in parts]
    out: dict[str, Any] = {"doc_count": doc_count(inner)}
    if sub:
        out.update(run(inner, sub))
    return out


def _none_of(queries: list[tantivy.Query]) -> tantivy.Query:
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, tantivy.Query.all_query())] +
        [(tantivy.Occur.MustNot, q) for q in queries])


def _top_docs(ctx: QueryContext, query: tantivy.Query, size: int) -> tantivy.Query:
    """The best-scoring `size` documents of one index (the sampler's shard sample)."""
    searcher = ctx.shard.fulltext.searcher
    hits = searcher.search(query, size, count=False).hits
    keys = [int(k) for k in searcher.fast_field_values(KEY, [a for _, a in hits])]
    return tantivy.Query.term_set_query(ctx.schema, KEY, keys) if keys else \
        tantivy.Query.empty_query()


def _filters(parts: list[Part], spec: dict[str, Any], sub: dict[str, Any], run: RunParts
             ) -> dict[str, Any]:
    filters = spec["filters"]
    named = isinstance(filters, dict)
    # Elasticsearch orders named filters by key, whatever the request's order
    items = sorted(filters.items()) if named else [(str(i), f) for i, f in enumerate(filters)]
    nodes = [(key, parse_query(body)) for key, body in items]
    other = spec.get("other_bucket", "other_bucket_key" in spec)
    keyed_buckets = named and spec.get("keyed", True) is not False
    buckets: list[tuple[str, dict[str, Any]]] = [
        (key, bucket(parts, node.compile, sub, run)) for key, node in nodes]
    if other:
        buckets.append((str(spec.get("other_bucket_key", "_other_")), bucket(
            parts, lambda ctx: _none_of([n.compile(ctx) for _, n in nodes]), sub, run)))
    if keyed_buckets:
        return {"buckets": dict(buckets)}
    return {"buckets": [{"key": key, **b} if named else b for key, b in buckets]}


def _ranges(parts: list[Part], kind: str, spec: dict[str, Any], sub: dict[str, Any],
            run: RunParts) -> dict[str, Any]:
    field = str(spec["field"])
    mapped = next((ctx.spec(field) for ctx, _ in parts if ctx.spec(field) is not None), None)
    is_date = kind == "date_range" or (mapped is not None and mapped.type in ("date",
                                                                                "date_nanos"))
    fmt = str(spec.get("format") or (mapped.params.get("format") if mapped is not None
                                      else None) or DEFAULT_FORMAT)
    if mapped is not None and mapped.type not in NUMERIC_TYPES | {"date", "date_nanos"}:
        raise BadRequest(f"Field [{field}] of type [{mapped.type}] is not supported for "
                         f"aggregation [{kind}]")
    if "format" in spec and not is_date:
        raise ParsingError(f"[{kind}] option [format] on numbers is not supported by the "
                           f"embedded engine")
    ranges = sorted((_bounds(item, is_date, fmt) for item in spec["ranges"]),
                    key=lambda r: (_order(r[1], -1), _order(r[2], 1)))
    out = []
    for key, low, high in ranges:
        def make(ctx: QueryContext, low: float | None = low, high: float | None = high
                 ) -> tantivy.Query:
            if ctx.spec(field) is None:
                return tantivy.Query.empty_query()
            bounds: dict[str, Any] = {} if not is_date else {"format": "epoch_millis"}
            if low is not None:
                bounds["gte"] = int(low) if is_date else low
            if high is not None:
                bounds["lt"] = int(high) if is_date else high
            return parse_query({"range": {field: bounds}} if len(bounds) > is_date else
                               {"exists": {"field": field}}).compile(ctx)

        shown = _text(low, is_date, fmt), _text(high, is_date, fmt)
        entry: dict[str, Any] = {"key": key if key is not None else
                                 f"{shown[0] or '*'}-{shown[1] or '*'}"}
        for name, value, text in (("from", low, shown[0]), ("to", high, shown[1])):
            if value is not None:
                entry[name] = float(value)
                if is_date:
                    entry[f"{name}_as_string"] = text
        entry.update(bucket(parts, make, sub, run))
        out.append(entry)
    if spec.get("keyed") is True:
        return {"buckets": {b.pop("key"): b for b in out}}
    return {"buckets": out}


def _ip_ranges(parts: list[Part], spec: dict[str, Any], sub: dict[str, Any], run: RunParts
               ) -> dict[str, Any]:
    """Buckets of addresses, from inclusive and to exclusive, or a CIDR `mask`."""
    field = str(spec["field"])
    ranges = []
    for item in spec["ranges"]:
        low, high = item.get("from"), item.get("to")
        if "mask" in item:
            try:
                network = ipaddress.ip_network(str(item["mask"]), strict=False)
            except ValueError as err:
                raise BadRequest(f"'{item['mask']}' is not an IP string literal.") from err
            low = str(network.network_address)
            end = int(network.broadcast_address) + 1
            high = str(ipaddress.ip_address(end)) if end < 2 ** network.max_prefixlen else None
        for bound in (low, high):
            try:
                if bound is not None:
                    ipaddress.ip_address(str(bound))
            except ValueError as err:
                raise BadRequest(f"'{bound}' is not an IP string literal.") from err
        key = item.get("key", item.get("mask"))
        ranges.append((key, low, high))

    def position(bound: str | None, infinite: int) -> float:
        return float(int(ipaddress.ip_address(bound))) if bound is not None else \
            infinite * float("inf")
    ranges.sort(key=lambda r: (position(r[1], -1), position(r[2], 1)))
    out = []
    for key, low, high in ranges:
        def make(ctx: QueryContext, low: str | None = low, high: str | None = high
                 ) -> tantivy.Query:
            if ctx.spec(field) is None:
                return tantivy.Query.empty_query()
            bounds = {**({"gte": low} if low else {}), **({"lt": high} if high else {})}
            return parse_query({"range": {field: bounds}} if bounds else
                               {"exists": {"field": field}}).compile(ctx)

        entry: dict[str, Any] = {"key": key if key is not None else f"{low or '*'}-{high or '*'}"}
        entry.update({name: value for name, value in (("from", low), ("to", high)) if value})
        out.append({**entry, **bucket(parts, make, sub, run)})
    if spec.get("keyed") is True:
        return {"buckets": {b.pop("key"): b for b in out}}
    return {"buckets": out}


def _order(value: float | None, infinite: int) -> float:
    return value if value is not None else infinite * float("inf")


def _bounds(item: dict[str, Any], is_date: bool, fmt: str
            ) -> tuple[str | None, float | None, float | None]:
    def bound(name: str) -> float | None:
        value = item.get(name)
        if value is None:
            return None
        if is_date:
            return float(resolve_date_math(value, fmt))
        try:
            return float(value)
        except (TypeError, ValueError) as err:
            raise ParsingError(f"[{name}] must be a number, found [{value}]") from err

    key = item.get("key")
    return (None if key is None else str(key)), bound("from"), bound("to")


def _text(value: float | None, is_date: bool, fmt: str) -> str | None:
    if value is None:
        return None
    return render_date(int(value), fmt) if is_date else to_java_string(float(value))


def key_filter(ctx: QueryContext, field: str, key: Any) -> tantivy.Query:
    """The documents whose `field` holds a terms bucket's key (a date key: its millisecond)."""
    spec = ctx.spec(field)
    if spec is None:
        return tantivy.Query.empty_query()
    if spec.type in ("date", "date_nanos"):
        body: dict[str, Any] = {"range": {field: {"gte": int(key), "lt": int(key) + 1,
                                                  "format": "epoch_millis"}}}
    elif spec.type == "boolean":
        body = {"term": {field: bool(key)}}
    else:
        body = {"term": {field: key}}
    return parse_query(body).compile(ctx)
