"""The `_reindex` request body: its validation, and the deprecation warnings it earns."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest, EngineError, ParsingError


def reindex_body(body: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(source, dest) of a `_reindex` body, refusing what Elasticsearch or the engine refuses."""
    body = body or {}
    for key in body:
        if key not in ("source", "dest", "conflicts", "max_docs", "size", "script"):
            raise ParsingError(f"[reindex] unknown field [{key}]")
    if "script" in body:
        raise BadRequest("reindex scripts are not supported by the embedded engine")
    source, dest = body.get("source"), body.get("dest")
    if not isinstance(source, dict) or "index" not in source:
        raise EngineError("Validation Failed: 1: use _all if you really want to copy from all "
                          "existing indexes;", status=400,
                          error_type="action_request_validation_exception")
    if not isinstance(dest, dict) or "index" not in dest:
        raise EngineError("Validation Failed: 1: index must be specified;", status=400,
                          error_type="action_request_validation_exception")
    for key in source:
        if key not in ("index", "query", "_source", "size", "sort"):
            raise BadRequest(f"[reindex] source [{key}] is not supported by the embedded engine")
    for key in dest:
        if key not in ("index", "pipeline", "op_type", "version_type"):
            raise BadRequest(f"[reindex] dest [{key}] is not supported by the embedded engine")
    return source, dest


def reindex_deprecations(body: dict[str, Any] | None) -> list[str]:
    """The deprecation warnings Elasticsearch gives for a reindex body."""
    body = body if isinstance(body, dict) else {}
    source = body.get("source") if isinstance(body.get("source"), dict) else {}
    found = []
    if "size" in body:
        found.append("Deprecated field [size] used, expected [max_docs] instead")
    if "sort" in source:
        found.append("The sort option in reindex is deprecated. Instead consider using query "
                     "filtering to find the desired subset of data.")
    return found
