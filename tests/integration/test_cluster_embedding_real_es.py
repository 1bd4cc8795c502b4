"""Embedding in the cluster on real Elasticsearch 8.19 and 9.1: the bundled MiniLM uploaded with
`es-rag model upload`, chunks embedded by the ingest `inference` processor, queries by kNN's
`query_vector_builder` on every hybrid path."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from es_rag.cli import cli
from es_rag.config import PROJECT_ROOT, load_settings
from es_rag.connect import connect
from es_rag.embedding.cluster import ClusterEmbedder
from es_rag.embedding.factory import embedder_for
from es_rag.embedding.local import Embedder
from es_rag.retrieve import SearchParams, search

pytestmark = pytest.mark.real_es

QUESTION = "How are BM25 and kNN results fused?"


@pytest.fixture
def cluster_env(real_es_url: str, real_es: Elasticsearch,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Settings for embedding = cluster; the model and the pipelines are removed afterwards."""
    env = {"ES_RAG_URL": real_es_url, "ES_RAG_EMBEDDING": "cluster",
           "ES_RAG_DATA": str(tmp_path_factory.mktemp("data"))}
    yield env
    model_id = load_settings(env=env).cluster_model_id
    real_es.options(ignore_status=404).ingest.delete_pipeline(id="chunks*")
    real_es.options(ignore_status=[404, 409]).ml.stop_trained_model_deployment(
        model_id=model_id, force=True)
    real_es.options(ignore_status=404).ml.delete_trained_model(model_id=model_id, force=True)


def es_rag(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def test_upload_ingest_and_hybrid_search_with_the_cluster_embedding(
        cluster_env: dict[str, str]) -> None:
    upload = es_rag(cluster_env, "model", "upload")
    assert upload.exit_code == 0, upload.output
    assert "deployment started" in upload.output
    applied = es_rag(cluster_env, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    ingested = es_rag(cluster_env, "ingest", str(PROJECT_ROOT / "docs"), "--json")
    assert ingested.exit_code == 0, ingested.output
    report = json.loads(ingested.output.splitlines()[-1])
    assert report["files"]["failed"] == 0 and report["chunks"]["indexed"] > 20, report

    settings = load_settings(env=cluster_env)
    client, caps = connect(settings)
    client.indices.refresh(index="chunks")
    hits = client.search(index="chunks", size=5, source=["text", "embedding"],
                         query={"match_all": {}})["hits"]["hits"]
    local = Embedder().embed_documents([hit["_source"]["text"] for hit in hits])
    for hit, vector in zip(hits, local, strict=True):
        assert max(abs(a - b) for a, b in zip(hit["_source"]["embedding"], vector,
                                              strict=True)) < 1e-3

    embedder = embedder_for(settings, client, caps)
    assert isinstance(embedder, ClusterEmbedder)
    params = SearchParams(mode="hybrid", size=5, explain=True)
    paths = {"retriever": caps, "client_rrf": dataclasses.replace(caps, rrf_licensed=False)}
    if caps.major == 8:
        paths["rank_rrf"] = dataclasses.replace(caps, retriever=False)
    for name, path_caps in paths.items():
        result = search(client, path_caps, "chunks", QUESTION, params, embedder)
        assert result.path_used == name
        assert result.hits[0].source == "retrieval.md", (name, result.hits[0].source)

    found = es_rag(cluster_env, "search", QUESTION, "--template", "hybrid", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.output.splitlines()[-1])["hits"][0]["source"] == "retrieval.md"
