"""The admin UI with embedding = cluster: the playground's kNN legs and the overview's ingest
have the cluster embed."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cluster_model_fixture import ClusterModel, QueryCounter, inference_count, run_cluster_cli
from elasticsearch import Elasticsearch
from ui_support import log_in, token

from admin_ui import create_app, state_of
from es_rag.config import Settings
from es_rag.embedding.cluster import ClusterSearchEmbedder


def test_the_playground_has_the_cluster_embed_every_query(
        settings: Settings, cluster: Elasticsearch, cluster_model: ClusterModel) -> None:
    app = create_app(replace(settings, embedding="cluster",
                             embedding_model_id=cluster_model.model_id),
                     allow_without_security=True)
    app.config["TESTING"] = True
    embedder = state_of(app).query_embedder()
    assert isinstance(embedder, ClusterSearchEmbedder)  # no local query-vector cache in front
    embedder.local = counter = QueryCounter(embedder.local)  # type: ignore[assignment]
    client = app.test_client()
    assert log_in(client).status_code == 302
    before = inference_count(cluster, cluster_model.model_id)
    html = client.get("/playground?q=disk+quota+exhausted").get_data(as_text=True)
    for mode in ("knn", "hybrid"):
        assert f'data-mode="{mode}"' in html
    assert "Storage quotas" in html and "embedding model is not available" not in html
    assert inference_count(cluster, cluster_model.model_id) >= before + 2  # the kNN and hybrid legs
    assert counter.queries == []


def test_ingest_from_the_overview_has_the_cluster_embed_the_chunks(
        engine: Any, settings: Settings, cluster: Elasticsearch, cluster_model: ClusterModel,
        tmp_path: Path) -> None:
    applied = run_cluster_cli(engine, tmp_path / "cli", "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "quota.md").write_text("# Quotas\n\nThe disk quota of a project is 10 GB.\n")
    app = create_app(replace(settings, index="chunks", embedding="cluster",
                             embedding_model_id=cluster_model.model_id,
                             ingest_roots=(tmp_path,)),
                     allow_without_security=True)
    app.config["TESTING"] = True
    client = app.test_client()
    assert log_in(client).status_code == 302
    before = inference_count(cluster, cluster_model.model_id)
    try:
        client.post("/overview/ingest", data={"csrf_token": token(client), "path": str(docs)})
        deadline = time.monotonic() + 120
        while (status := client.get("/jobs/ingest-1.json").get_json())["state"] == "running":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status["state"] == "done", status
        cluster.indices.refresh(index="chunks")
        [hit] = cluster.search(index="chunks", query={"match_all": {}})["hits"]["hits"]
        assert len(hit["_source"]["embedding"]) == 384
        assert inference_count(cluster, cluster_model.model_id) == before + 1  # by the pipeline
    finally:
        cluster.options(ignore_status=404).indices.delete(index="chunks-v*")
        cluster.ingest.delete_pipeline(id="chunks*")
        for template in ("bm25", "hybrid", "knn"):
            cluster.delete_script(id=template)
