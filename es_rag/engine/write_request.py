"""One write as the document APIs receive it (`WriteRequest`), its outcome (`WriteResult`), and
the checks and helpers every write shares: ids, object depth, partial-update merges."""

from __future__ import annotations

import base64
import copy
import os
import time
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest, DocumentParsingError, EngineError


@dataclass(slots=True)
class WriteRequest:
    """One write: an index/create/update/delete of a document (a bulk item or a single call)."""

    op: str
    index: str
    id: str | None = None
    source: dict[str, Any] | None = None
    raw_source: bytes | None = None
    update: dict[str, Any] | None = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None
    version: int | None = None
    version_type: str = "internal"
    routing: str | None = None
    pipeline: str | None = None
    require_alias: bool = False
    source_spec: Any = None
    executed_pipelines: list[str] | None = None
    version_from_pipeline: bool = False  # set by `_version`: checked, never refused as a request


@dataclass(slots=True)
class WriteResult:
    """The outcome of one write: a response body and status, or an error."""

    body: dict[str, Any]
    status: int
    error: EngineError | None = None


def new_id() -> str:
    """A 20-character URL-safe id, like Elasticsearch's auto-generated ids."""
    raw = int(time.time() * 1000).to_bytes(6, "big") + os.urandom(9)
    return base64.urlsafe_b64encode(raw).decode()[:20]


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A partial-update merge: objects merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_depth(source: dict[str, Any], limit: int) -> None:
    """Refuse objects nested deeper than `index.mapping.depth.limit`, as Elasticsearch does
    when they would be mapped (checked without recursion, whatever the depth)."""
    stack: list[tuple[Any, str, int]] = [(source, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, list):
            stack.extend((item, path, depth) for item in value)
        elif isinstance(value, dict):
            if depth > limit + 1:
                raise DocumentParsingError(
                    f"Limit of mapping depth [{limit}] has been exceeded due to object field "
                    f"[{path[:-1]}]")
            stack.extend((v, f"{path}{k}.", depth + 1) for k, v in value.items())


def check_id(doc_id: str) -> None:
    if len(doc_id.encode()) > 512:
        raise EngineError(f"id [{doc_id}] is too long, must be no longer than 512 bytes but was: "
                          f"{len(doc_id.encode())}", status=400,
                          error_type="action_request_validation_exception")
    if not doc_id:
        raise BadRequest("if _id is specified it must not be empty")
