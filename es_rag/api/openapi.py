"""The OpenAPI 3.1 description of the `/api` routes, built from one table and the body models."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import Any

from pydantic.json_schema import models_json_schema

from .schemas import REQUEST_MODELS, RESPONSE_MODELS

ERRORS = {
    400: "the body is not JSON, a field is missing, unknown or invalid, the mode is unknown "
         "or a filter does not parse (the reason names it)",
    401: "no credentials, or the cluster refused them",
    403: "the cluster denies the caller this search",
    404: "the index or the stored search template does not exist",
    413: "the body is larger than 1 MiB",
    500: "an unexpected failure of the API (details in its log)",
    502: "the cluster cannot be reached, or the LLM endpoint failed",
    503: "the cluster or the LLM endpoint is unavailable",
    504: "the cluster did not answer in time",
}
SEARCH_ERRORS = (400, 401, 403, 404, 413, 500, 502, 503, 504)
SSE_DESCRIPTION = (
    "With `stream: true`: Server-Sent Events. `event: token` (data: TokenEvent) for each piece "
    "of the answer, then one `event: citations` (data: CitationsEvent), then `event: done` "
    "(data: DoneEvent). A failure after the stream started ends it with `event: error` (data: "
    "ErrorResponse). Each event's data is one line of JSON.")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Operation:
    """One route: method, path, what it does, its request body and its responses."""

    method: str
    path: str
    operation_id: str
    summary: str
    ok: dict[str, Any]
    request: dict[str, Any] | None = None
    errors: tuple[int, ...] = ()
    authenticated: bool = False


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPERATIONS = (
    Operation(
        "post", "/api/search", "search", "Search the chunk index as the caller",
        ok=_json(_ref("SearchResponse"), "hits, best first"),
        request={"oneOf": [_ref("TemplateSearch"), _ref("ModeSearch")]},
        errors=SEARCH_ERRORS, authenticated=True),
    Operation(
        "post", "/api/ask", "ask", "Answer a question from the chunks the caller can retrieve",
        ok={"description": "the answer with verified citations",
            "content": {"application/json": {"schema": _ref("AskResponse")},
                        "text/event-stream": {
                            "schema": {"type": "string", "description": SSE_DESCRIPTION},
                            "x-events": {"token": _ref("TokenEvent"),
                                         "citations": _ref("CitationsEvent"),
                                         "done": _ref("DoneEvent"),
                                         "error": _ref("ErrorResponse")}}}},
        request=_ref("AskRequest"), errors=SEARCH_ERRORS, authenticated=True),
    Operation("get", "/api/health", "health", "Is the API up and does the cluster answer?",
              ok=_json(_ref("HealthResponse"), "the cluster answers"), errors=(500, 503)),
    Operation("get", "/api/openapi.json", "openapi", "This description",
              ok=_json({"type": "object"}, "an OpenAPI 3.1 document")),
)


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                           "responses": {"200": op.ok}}
    if op.request is not None:
        out["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": op.request}}}
    for status in op.errors:
        out["responses"][str(status)] = _json(_ref("ErrorResponse"), ERRORS[status])
    if op.authenticated:
        # the empty requirement: a cluster without security needs no credentials
        out["security"] = [{"basicAuth": []}, {"apiKeyAuth": []}, {}]
    return out


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at /api/openapi.json."""
    _, schemas = models_json_schema(
        [(m, "validation") for m in REQUEST_MODELS]
        + [(m, "serialization") for m in RESPONSE_MODELS],
        ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "es-rag API", "version": version("es-rag"),
                 "description": "Search and question answering over an Elasticsearch chunk "
                                "index. Requests run with the caller's own credentials, so "
                                "the cluster's document-level security applies."},
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic",
                              "description": "a cluster user's name and password"},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization",
                               "description": "`ApiKey <encoded>`: a cluster API key"},
            },
        },
    }
