"""Role descriptors: parsing and validating them as Elasticsearch does, and the built-in roles.

A parsed descriptor is stored and returned in the shape `GET /_security/role` answers with; the
DLS `query` is kept as the JSON text it was given (Elasticsearch returns it as a string).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from es_rag.engine.errors import ActionRequestValidation, BadRequest, EngineError
from es_rag.engine.mustache import compile_template

from .dls import prohibited_query
from .fls import FieldSecurityError, parse_field_security
from .global_privileges import parse_global
from .privileges import cluster_privilege, index_privilege

QueryValidator = Callable[[dict[str, Any]], None]

RESERVED_ROLES: dict[str, dict[str, Any]] = {
    "superuser": {
        "cluster": ["all"],
        "indices": [{"names": ["*"], "privileges": ["all"], "allow_restricted_indices": True}],
        "applications": [{"application": "*", "privileges": ["*"], "resources": ["*"]}],
        "run_as": ["*"],
        "metadata": {"_reserved": True},
        "transient_metadata": {},
    },
    "viewer": {
        "cluster": [],
        "indices": [{"names": ["*"], "privileges": ["read", "view_index_metadata"],
                     "allow_restricted_indices": False}],
        "applications": [],
        "run_as": [],
        "metadata": {"_reserved": True},
        "transient_metadata": {},
    },
    "ingest_admin": {
        "cluster": ["manage_index_templates", "manage_pipeline"],
        "indices": [],
        "applications": [],
        "run_as": [],
        "metadata": {"_reserved": True},
        "transient_metadata": {},
    },
}

_ROLE_FIELDS = {"cluster", "indices", "index", "applications", "application", "run_as",
                "metadata", "transient_metadata", "description", "global"}
_UNSUPPORTED_ROLE_FIELDS = {"remote_indices", "remote_cluster", "restriction"}
_INDEX_FIELDS = {"names", "privileges", "query", "allow_restricted_indices", "field_security"}
_APPLICATION_FIELDS = {"application", "privileges", "resources"}


class RoleParseError(EngineError):
    """A role descriptor Elasticsearch would refuse to parse."""

    status = 400
    error_type = "parse_exception"


def parse_role(name: str, body: Any, *, validate_query: QueryValidator | None = None
               ) -> dict[str, Any]:
    """Validate the role descriptor `body` for role `name` and return its normalized form.

    `validate_query` checks a (non-templated) DLS query with the engine's query parser and raises
    an `EngineError` when it is not a valid query; templated queries are checked to compile.
    """
    if not isinstance(body, dict):
        raise RoleParseError(f"failed to parse role [{name}]. expected an object")
    for field in body:
        if field in _UNSUPPORTED_ROLE_FIELDS:
            raise BadRequest(f"[{field}] in role [{name}] is not supported by the embedded engine")
        if field not in _ROLE_FIELDS:
            raise RoleParseError(f"failed to parse role [{name}]. unexpected field [{field}]")
    cluster = _strings(body.get("cluster", []), name, "cluster")
    for privilege in cluster:
        cluster_privilege(privilege)
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RoleParseError(f"failed to parse role [{name}]. expected field [metadata] to be an "
                             "object")
    if any(key.startswith("_") for key in metadata):
        raise ActionRequestValidation(
            "Validation Failed: 1: role metadata keys may not start with [_];")
    role: dict[str, Any] = {
        "cluster": cluster,
        **({"global": parse_global(body["global"])} if body.get("global") else {}),
        "indices": [_parse_indices(name, entry, validate_query, position)
                    for position, entry in enumerate(
                        _objects(body.get("indices", body.get("index", [])), name, "indices"))],
        "applications": [_parse_application(name, entry)
                         for entry in _objects(body.get("applications",
                                                        body.get("application", [])),
                                               name, "applications")],
        "run_as": _strings(body.get("run_as", []), name, "run_as"),
        "metadata": metadata,
        "transient_metadata": {"enabled": True},
    }
    if body.get("description") is not None:
        role["description"] = body["description"]
    return role


def _parse_indices(role: str, entry: dict[str, Any], validate_query: QueryValidator | None,
                   position: int) -> dict[str, Any]:
    where = f"failed to parse indices privileges for role [{role}]."
    for field in entry:
        if field not in _INDEX_FIELDS:
            raise RoleParseError(f"{where} unexpected field [{field}]")
    if "names" not in entry:
        raise RoleParseError(f"{where} missing required [names] field")
    if "privileges" not in entry:
        raise RoleParseError(f"{where} missing required [privileges] field")
    names = entry["names"]
    names = [names] if isinstance(names, str) else _strings(names, role, "names", where)
    if not names:
        raise RoleParseError(f"{where} missing required [names] field")
    privileges = _strings(entry["privileges"], role, "privileges", where)
    for privilege in privileges:
        index_privilege(privilege)
    allow_restricted = entry.get("allow_restricted_indices", False)
    if not isinstance(allow_restricted, bool):
        raise RoleParseError(f"{where} expected field [allow_restricted_indices] value to be a "
                             f"boolean, but found [{allow_restricted!r}] instead")
    parsed: dict[str, Any] = {"names": names, "privileges": privileges,
                              "allow_restricted_indices": allow_restricted}
    if "field_security" in entry:
        try:
            parsed["field_security"] = parse_field_security(role, entry["field_security"])
        except FieldSecurityError as exc:
            raise RoleParseError(str(exc), **({"caused_by": exc.cause} if exc.cause else {})
                                 ) from exc
    query = entry.get("query")
    if query is not None:
        where_query = f"for indices [{','.join(names)}] at index privilege [{position}]"
        parsed["query"] = _check_query(role, query, validate_query, where_query)
    return parsed


def _check_query(role: str, query: Any, validate_query: QueryValidator | None, where: str
                 ) -> str:
    """The DLS query as text, refused as Elasticsearch's `DLSRoleQueryValidator` refuses it
    at put time (`failed to parse field 'query' for indices [...] at index privilege [i] of role
    descriptor`, the cause under `caused_by`)."""
    if isinstance(query, dict):
        text = json.dumps(query, separators=(",", ":"))
    elif isinstance(query, str):
        text = query
    else:
        raise RoleParseError(f"failed to parse indices privileges for role [{role}]. expected "
                             "field [query] value to be null, a string or an object, but found "
                             f"[{query!r}] instead")
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise _query_error(where, f"the DLS query is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict) or not parsed:
        raise _query_error(where, "the DLS query must be a JSON object holding one query")
    if "template" in parsed:
        _check_template(parsed, where)
        return text
    prohibited = prohibited_query(parsed)
    if prohibited:
        raise _query_error(where, prohibited, {"type": "illegal_argument_exception",
                                               "reason": prohibited})
    if validate_query is not None:
        try:
            validate_query(parsed)
        except EngineError as exc:
            raise _query_error(where, exc.reason, exc.cause()) from exc
    return text


def _check_template(query: dict[str, Any], where: str) -> None:
    template = query["template"]
    if not isinstance(template, dict) or not ({"source", "id"} & template.keys()):
        raise _query_error(where, "a templated DLS query needs [template.source] or "
                                  "[template.id]")
    if not isinstance(template.get("params", {}), dict):
        raise _query_error(where, "[template.params] must be an object")
    source = template.get("source")
    if source is not None:
        text = source if isinstance(source, str) else json.dumps(source)
        try:
            compile_template(text)
        except EngineError as exc:
            raise _query_error(where, exc.reason, exc.cause()) from exc


def _query_error(where: str, detail: str, cause: dict[str, Any] | None = None
                 ) -> RoleParseError:
    cause = cause or {"type": "parse_exception", "reason": detail}
    return RoleParseError(f"failed to parse field 'query' {where} of role descriptor",
                          caused_by=cause)


def _parse_application(role: str, entry: dict[str, Any]) -> dict[str, Any]:
    where = f"failed to parse application privileges for role [{role}]."
    for field in entry:
        if field not in _APPLICATION_FIELDS:
            raise RoleParseError(f"{where} unexpected field [{field}]")
    for field in ("application", "privileges", "resources"):
        if field not in entry:
            raise RoleParseError(f"{where} missing required [{field}] field")
    if not isinstance(entry["application"], str):
        raise RoleParseError(f"{where} expected field [application] to be a string")
    return {"application": entry["application"],
            "privileges": _strings(entry["privileges"], role, "privileges", where),
            "resources": _strings(entry["resources"], role, "resources", where)}


def _strings(value: Any, role: str, field: str, where: str | None = None) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    prefix = where or f"failed to parse role [{role}]."
    raise RoleParseError(f"{prefix} expected field [{field}] value to be an array of strings, "
                         f"but found [{value!r}] instead")


def _objects(value: Any, role: str, field: str) -> list[dict[str, Any]]:
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    raise RoleParseError(f"failed to parse role [{role}]. expected field [{field}] value to be an "
                         "array of objects")
