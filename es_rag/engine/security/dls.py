"""Document-level security: render role queries for a user and combine them as Elasticsearch does.

Within one set of roles the queries of the groups granting access are OR-ed (any group without a
query lifts the restriction); for an API key the key's restriction and its owner's are AND-ed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from es_rag.engine.errors import BadRequest, EngineError
from es_rag.engine.mustache import render

StoredScript = Callable[[str], "str | None"]

MATCH_NONE: dict[str, Any] = {"match_none": {}}
# queries that fetch other documents (or join) cannot restrict what a role reads, as in ES
_JOINS = ("has_child", "has_parent", "percolate")


def prohibited_query(query: Any) -> str | None:
    """Why Elasticsearch refuses `query` as a role's DLS query (a terms lookup, an indexed
    geo shape, a join or percolate anywhere in it), or None when it may restrict a role."""
    if isinstance(query, list):
        return next((r for r in map(prohibited_query, query) if r), None)
    if not isinstance(query, dict):
        return None
    for key, value in query.items():
        clauses = value.values() if isinstance(value, dict) else ()
        if key == "terms" and any(isinstance(c, dict) and {"id", "path"} <= c.keys()
                                  for c in clauses):
            return "terms query with terms lookup isn't supported as part of a role query"
        if key == "geo_shape" and any(isinstance(c, dict) and "indexed_shape" in c
                                      for c in clauses):
            return ("geoshape query referring to indexed shapes isn't supported as part of a "
                    "role query")
        if key in _JOINS and isinstance(value, dict):
            return f"{key} query isn't supported as part of a role query"
        reason = prohibited_query(value)
        if reason:
            return reason
    return None


def render_role_query(text: str, user: Mapping[str, Any],
                      stored_script: StoredScript | None = None) -> dict[str, Any]:
    """The query DSL object of a role's DLS query, rendering `{"template": …}` with `_user`."""
    query = json.loads(text)
    template = query.get("template") if isinstance(query, dict) else None
    if not isinstance(template, dict):
        return query
    return _checked(_rendered(template, user, stored_script))


def _checked(query: dict[str, Any]) -> dict[str, Any]:
    reason = prohibited_query(query)
    if reason:
        raise BadRequest(reason)
    return query


def _rendered(template: dict[str, Any], user: Mapping[str, Any],
              stored_script: StoredScript | None) -> dict[str, Any]:
    source = template.get("source")
    if source is None:
        script_id = template.get("id")
        source = stored_script(script_id) if stored_script is not None else None
        if source is None:
            raise BadRequest(f"unable to find script [{script_id}] in cluster state "
                             "for a templated role query")
    if not isinstance(source, str):
        source = json.dumps(source)
    params = {**(template.get("params") or {}), "_user": dict(user)}
    rendered = render(source, params)
    try:
        result = json.loads(rendered)
    except ValueError as exc:
        raise EngineError(f"the templated role query rendered to invalid JSON [{rendered}]",
                          status=400, error_type="parse_exception") from exc
    if not isinstance(result, dict):
        raise EngineError(f"the templated role query rendered to [{rendered}], not a query",
                          status=400, error_type="parse_exception")
    return result


def combine(parts: list[list[dict[str, Any]] | None]) -> dict[str, Any] | None:
    """AND of parts, each an OR of queries (None: unrestricted, []: nothing readable)."""
    restrictions = [_any_of(p) for p in parts if p is not None]
    if not restrictions:
        return None
    if len(restrictions) == 1:
        return restrictions[0]
    return {"bool": {"filter": restrictions}}


def _any_of(queries: list[dict[str, Any]]) -> dict[str, Any]:
    if not queries:
        return dict(MATCH_NONE)
    if len(queries) == 1:
        return queries[0]
    return {"bool": {"should": queries, "minimum_should_match": 1}}


def restrict(query: dict[str, Any] | None, dls: dict[str, Any] | None) -> dict[str, Any] | None:
    """`query` (None meaning match_all) narrowed to the documents `dls` lets through."""
    if dls is None:
        return query
    return {"bool": {"must": [query or {"match_all": {}}], "filter": [dls]}}


def restrict_filter(existing: dict[str, Any] | list[dict[str, Any]] | None,
                    dls: dict[str, Any] | None) -> list[dict[str, Any]] | dict[str, Any] | None:
    """A kNN `filter` (object, list or None) with the DLS query added to it."""
    if dls is None:
        return existing
    if existing is None:
        return [dls]
    return [*(existing if isinstance(existing, list) else [existing]), dls]
