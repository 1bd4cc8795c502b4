"""The admin UI with embedding = cluster: the playground's kNN legs have the cluster embed."""

from __future__ import annotations

from dataclasses import replace

from cluster_model_fixture import ClusterModel, QueryCounter, inference_count
from elasticsearch import Elasticsearch
from ui_support import log_in

from admin_ui import create_app, state_of
from es_rag.config import Settings
from es_rag.ingest.cluster_embed import ClusterSearchEmbedder


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
