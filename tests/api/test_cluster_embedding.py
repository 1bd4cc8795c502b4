"""The API with embedding = cluster: searches run as the caller and the cluster embeds the query.

`es-rag serve` with embedding = cluster builds no query vector itself: every kNN leg of a
caller's search and of an ask's retrieval sends `query_vector_builder` naming the trained model,
and only the passages es-rag scores itself (answer relevance, citations) are embedded locally.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cluster_model_fixture import ClusterModel, QueryCounter, inference_count
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from es_rag.api import create_api_app
from es_rag.api.state import EXTENSION
from es_rag.config import Settings
from es_rag.embedding.cluster import ClusterSearchEmbedder

from .conftest import INDEX


class RecordingClient(Elasticsearch):
    """A client that keeps the body of every request it sends (clients it derives share it)."""

    bodies: list[str] = []

    def perform_request(self, method: str, path: str, **kwargs: Any) -> Any:
        RecordingClient.bodies.append(json.dumps(kwargs.get("body"), default=str))
        return super().perform_request(method, path, **kwargs)


@pytest.fixture(scope="module")
def cluster_api(engine: Any, cluster: Elasticsearch,
                cluster_model: ClusterModel) -> tuple[FlaskClient, QueryCounter]:
    """The API with embedding = cluster (its embedder built from the settings), recording
    what it sends, and the counter standing in for its local model."""
    settings = Settings(url=engine.url, index=INDEX, embedding="cluster",
                        embedding_model_id=cluster_model.model_id)
    app = create_api_app(settings, client_factory=lambda authorization: RecordingClient(
        engine.url, request_timeout=60))
    embedder = app.extensions[EXTENSION].embedder()
    assert isinstance(embedder, ClusterSearchEmbedder)
    embedder.local = counter = QueryCounter(embedder.local)  # type: ignore[assignment]
    return app.test_client(), counter


def sent_builder(model_id: str) -> bool:
    builder = {"text_embedding": {"model_id": model_id, "model_text": "disk quota exhausted"}}
    return any(json.dumps(builder)[1:-1] in body for body in RecordingClient.bodies)


@pytest.mark.parametrize("mode", ["knn", "hybrid"])
def test_a_search_has_the_cluster_embed_the_query(cluster_api, cluster: Elasticsearch,
                                                  cluster_model: ClusterModel, mode) -> None:
    api, counter = cluster_api
    RecordingClient.bodies.clear()
    before = inference_count(cluster, cluster_model.model_id)
    response = api.post("/api/search", json={"mode": mode, "query": "disk quota exhausted",
                                              "size": 3})
    assert response.status_code == 200, response.json
    assert response.json["hits"][0]["chunk_id"] == "storage#0"
    assert response.json["explain"]["embedded_by"] == "cluster"
    assert sent_builder(cluster_model.model_id)
    assert inference_count(cluster, cluster_model.model_id) > before
    assert counter.queries == []


@pytest.mark.parametrize("template", ["knn", "hybrid"])
def test_a_template_search_passes_the_model_instead_of_a_vector(
        cluster_api, cluster_model: ClusterModel, template) -> None:
    api, counter = cluster_api
    RecordingClient.bodies.clear()
    response = api.post("/api/search", json={"template": template,
                                              "params": {"query": "disk quota exhausted"}})
    assert response.status_code == 200, response.json
    assert response.json["hits"][0]["chunk_id"] == "storage#0"
    assert any(f'"model_id": "{cluster_model.model_id}"' in body
               for body in RecordingClient.bodies)
    assert not any("query_vector\"" in body for body in RecordingClient.bodies)
    assert counter.queries == []


def test_an_answer_retrieves_with_the_cluster_and_checks_relevance_locally(
        cluster_api, cluster: Elasticsearch, cluster_model: ClusterModel) -> None:
    api, counter = cluster_api
    RecordingClient.bodies.clear()
    counter.queries.clear()
    before = inference_count(cluster, cluster_model.model_id)
    response = api.post("/api/ask", json={"question": "disk quota exhausted"})
    assert response.status_code == 200, response.json
    assert response.json["citations"][0]["chunk_id"] == "storage#0"
    assert sent_builder(cluster_model.model_id)
    assert inference_count(cluster, cluster_model.model_id) > before
    assert counter.queries == ["disk quota exhausted"]  # once, for the relevance floor
