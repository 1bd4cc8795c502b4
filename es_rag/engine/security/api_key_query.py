"""`POST /_security/_query/api_key`: API keys found with a query DSL subset, sorted and paged.

As Elasticsearch's `QueryApiKey`: queries `bool`, `match_all`, `term`, `terms`, `match`,
`prefix`, `wildcard`, `range`, `exists`, `ids` over the fields it exposes (`id`/`_id`, `name`,
`type`, `username`, `realm_name`, `creation`, `expiration`, `invalidated`, `invalidation`,
`metadata.*`); `from`, `size` (10), `sort`, `search_after`. A caller without `manage_api_key`
sees only its own keys (an API key only itself).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any

from es_rag.engine.errors import BadRequest, ParsingError

from ..dates import parse_date
from .api_keys import api_key_info

Predicate = Callable[[Mapping[str, Any]], bool]
_FIELDS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "_id": lambda k: k["id"], "id": lambda k: k["id"], "name": lambda k: k.get("name"),
    "type": lambda k: "rest", "username": lambda k: k["creator"]["principal"],
    "realm_name": lambda k: k["creator"]["realm"], "creation": lambda k: k.get("creation"),
    "expiration": lambda k: k.get("expiration"),
    "invalidated": lambda k: bool(k.get("invalidated")),
    "invalidation": lambda k: k.get("invalidation"),
}
_DATES = ("creation", "expiration", "invalidation")
_BODY_KEYS = {"query", "from", "size", "sort", "search_after", "aggs", "aggregations"}


def field_value(key: Mapping[str, Any], field: str) -> Any:
    """The value of a queryable field of a stored key; other fields are refused."""
    if field.startswith("metadata."):
        value: Any = key.get("metadata") or {}
        for part in field[len("metadata."):].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    getter = _FIELDS.get(field)
    if getter is None:
        raise BadRequest(f"Field [{field}] is not allowed for querying or aggregation")
    return getter(key)


def compile_query(query: Any) -> Predicate:
    """A predicate over stored key records for one query clause."""
    if not isinstance(query, dict) or len(query) != 1:
        raise ParsingError("[query] must be an object holding exactly one query")
    (kind, body), = query.items()
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise BadRequest(f"Query type [{kind}] is not supported for API Key query")
    return builder(body)


def _single(kind: str, body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise ParsingError(f"[{kind}] query doesn't support multiple fields")
    (field, spec), = body.items()
    field_value({"creator": {"principal": "", "realm": ""}, "id": ""}, field)  # known field
    return field, spec


def _values_equal(actual: Any, expected: Any) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    return any(str(v).lower() == str(expected).lower() if isinstance(v, bool) else
               v == expected or str(v) == str(expected) for v in values)


def _term(body: Any) -> Predicate:
    field, spec = _single("term", body)
    value = spec.get("value") if isinstance(spec, dict) else spec
    return lambda k: _values_equal(field_value(k, field), value)


def _terms(body: Any) -> Predicate:
    fields = {f: v for f, v in body.items() if f != "boost"} if isinstance(body, dict) else {}
    field, values = _single("terms", fields)
    if not isinstance(values, list):
        raise ParsingError("[terms] query does not support a terms lookup here")
    return lambda k: any(_values_equal(field_value(k, field), v) for v in values)


def _prefix(body: Any) -> Predicate:
    field, spec = _single("prefix", body)
    value = str(spec.get("value") if isinstance(spec, dict) else spec)
    return lambda k: str(field_value(k, field) or "").startswith(value)


def _wildcard(body: Any) -> Predicate:
    field, spec = _single("wildcard", body)
    value = str(spec.get("value", spec.get("wildcard")) if isinstance(spec, dict) else spec)
    return lambda k: fnmatch.fnmatchcase(str(field_value(k, field) or ""), value)


def _range(body: Any) -> Predicate:
    field, spec = _single("range", body)
    if not isinstance(spec, dict):
        raise ParsingError("[range] query malformed")
    bounds = {op: _comparable(field, spec[op]) for op in ("gt", "gte", "lt", "lte") if op in spec}

    def matches(key: Mapping[str, Any]) -> bool:
        value = field_value(key, field)
        if value is None:
            return False
        value = _comparable(field, value)
        return all({"gt": value > b, "gte": value >= b, "lt": value < b, "lte": value <= b}[op]
                   for op, b in bounds.items())
    return matches


def _comparable(field: str, value: Any) -> Any:
    if field in _DATES and not isinstance(value, int | float):
        try:
            return parse_date(value)
        except ValueError as exc:
            raise BadRequest(str(exc), error_type="parse_exception") from None
    return value


def _exists(body: Any) -> Predicate:
    field = body.get("field") if isinstance(body, dict) else None
    if not isinstance(field, str):
        raise ParsingError("[exists] must be provided with a [field]")
    return lambda k: field_value(k, field) is not None


def _ids(body: Any) -> Predicate:
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise ParsingError("[ids] requires [values]")
    return lambda k: k["id"] in values


def _bool(body: Any) -> Predicate:
    if not isinstance(body, dict):
        raise ParsingError("[bool] query malformed")

    def clauses(name: str) -> list[Predicate]:
        value = body.get(name, [])
        return [compile_query(q) for q in (value if isinstance(value, list) else [value])]
    must, filters, should, must_not = (clauses(n) for n in ("must", "filter", "should",
                                                            "must_not"))
    required = body.get("minimum_should_match", 0 if must or filters else 1 if should else 0)

    def matches(key: Mapping[str, Any]) -> bool:
        if not all(p(key) for p in must + filters) or any(p(key) for p in must_not):
            return False
        return sum(p(key) for p in should) >= int(required)
    return matches


_BUILDERS: dict[str, Callable[[Any], Predicate]] = {
    "match_all": lambda body: lambda k: True, "bool": _bool, "term": _term, "terms": _terms,
    "match": _term, "prefix": _prefix, "wildcard": _wildcard, "range": _range,
    "exists": _exists, "ids": _ids,
}


def _sort_spec(sort: Any) -> list[tuple[str, bool]]:
    out = []
    for entry in sort if isinstance(sort, list) else [sort]:
        if isinstance(entry, str):
            out.append((entry, False))
        elif isinstance(entry, dict) and len(entry) == 1:
            (field, spec), = entry.items()
            order = spec.get("order", "asc") if isinstance(spec, dict) else spec
            out.append((field, str(order).lower() == "desc"))
        else:
            raise ParsingError("[sort] malformed")
    return out


def query_api_keys(keys: list[Mapping[str, Any]], body: Mapping[str, Any], *,
                   with_limited_by: bool) -> dict[str, Any]:
    """The `_query/api_key` response for `keys` (already limited to what the caller may see)."""
    unknown = [k for k in body if k not in _BODY_KEYS]
    if unknown:
        raise ParsingError(f"[query_api_keys_request] unknown field [{unknown[0]}]")
    if "aggs" in body or "aggregations" in body:
        raise BadRequest("aggregations in an API key query are not supported by the embedded "
                         "engine")
    predicate = compile_query(body.get("query", {"match_all": {}}))
    found = [k for k in keys if predicate(k)]
    sort = _sort_spec(body["sort"]) if body.get("sort") is not None else []
    for field, _ in sort:
        field_value(found[0] if found else {"creator": {"principal": "", "realm": ""},
                                            "id": ""}, field)
    for field, descending in reversed(sort):
        found.sort(key=lambda k, f=field: _sort_key(field_value(k, f)), reverse=descending)
    if body.get("search_after") is not None and sort:
        after = list(body["search_after"])
        found = [k for k in found if _after([field_value(k, f) for f, _ in sort], after, sort)]
    start, size = int(body.get("from", 0)), int(body.get("size", 10))
    if start < 0 or size < 0:
        raise BadRequest("[from] and [size] must be positive")
    page = found[start:start + size]
    out = []
    for key in page:
        info = api_key_info(key, with_limited_by=with_limited_by)
        if sort:
            info["_sort"] = [field_value(key, f) for f, _ in sort]
        out.append(info)
    return {"total": len(found), "count": len(out), "api_keys": out}


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value if not isinstance(value, bool) else int(value))


def _after(values: list[Any], after: list[Any], sort: list[tuple[str, bool]]) -> bool:
    for value, pivot, (_, descending) in zip(values, after, sort, strict=False):
        left, right = _sort_key(value), _sort_key(pivot)
        if left != right:
            return left < right if descending else left > right
    return False
