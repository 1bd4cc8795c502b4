"""Fixtures for the HTTP API tests: a chunk index with embeddings, the stored templates, the app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient
from retrieve.corpus import index_corpus, shared_embedder

from es_rag.api import create_api_app
from es_rag.config import PROJECT_ROOT, Settings

INDEX = "api-chunks"
TEMPLATES = ("bm25", "knn", "hybrid")


def put_search_templates(client: Elasticsearch) -> None:
    """Store the repository's search templates, as `es-rag apply` does."""
    for name in TEMPLATES:
        source = (PROJECT_ROOT / "templates" / "search" / f"{name}.mustache").read_text()
        client.put_script(id=name, script={"lang": "mustache", "source": source})


@pytest.fixture(scope="module")
def cluster(engine: Any) -> Iterator[Elasticsearch]:
    """The engine with the demo chunks in `api-chunks` and the stored search templates."""
    client = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(client, INDEX)
    put_search_templates(client)
    yield client
    client.options(ignore_status=404).indices.delete(index=INDEX)
    client.close()


@pytest.fixture(scope="module")
def app(engine: Any, cluster: Elasticsearch) -> Flask:
    settings = Settings(url=engine.url, index=INDEX)
    return create_api_app(settings, embedder=shared_embedder())


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def sse_events(body: str) -> list[tuple[str, Any]]:
    """(event name, decoded JSON data) of each Server-Sent Event in a response body."""
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events
