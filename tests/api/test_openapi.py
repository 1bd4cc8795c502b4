"""The OpenAPI description lists every route with its bodies and error responses."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from es_rag.api import create_api_app
from es_rag.config import Settings


@pytest.fixture(scope="module")
def app() -> Flask:
    """The description needs no cluster: the app is never asked to reach this one."""
    return create_api_app(Settings(url="http://127.0.0.1:9"))


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_openapi_lists_every_route_of_the_api_and_nothing_else(app: Flask) -> None:
    doc = app.test_client().get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    served = {(rule.rule, method.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api") for method in rule.methods or ()
              if method not in ("HEAD", "OPTIONS")}
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert described == served


def test_every_schema_reference_resolves(app: Flask) -> None:
    doc = app.test_client().get("/api/openapi.json").json
    names = {f"#/components/schemas/{name}" for name in doc["components"]["schemas"]}
    assert _refs(doc) <= names


def test_search_and_ask_describe_bodies_auth_and_errors(app: Flask) -> None:
    doc = app.test_client().get("/api/openapi.json").json
    search, ask = doc["paths"]["/api/search"]["post"], doc["paths"]["/api/ask"]["post"]
    body = search["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"] == [{"$ref": "#/components/schemas/TemplateSearch"},
                             {"$ref": "#/components/schemas/ModeSearch"}]
    for op in (search, ask):
        assert {"200", "400", "401", "403", "404", "502", "503"} <= set(op["responses"])
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"}
        assert {"basicAuth": []} in op["security"]
    assert set(ask["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    schemas = doc["components"]["schemas"]
    assert {"question", "history", "stream"} <= set(schemas["AskRequest"]["properties"])
    assert schemas["ModeSearch"]["properties"]["mode"]["enum"] == [
        "bm25", "knn", "hybrid", "hybrid+rerank"]
    citation = schemas["Citation"]["properties"]
    assert {"n", "chunk_id", "doc_id", "source", "page", "offsets", "quote"} <= set(citation)
    assert doc["paths"]["/api/health"]["get"]["responses"]["503"]
