"""Embedding in the cluster (embedding = cluster), the whole path on the embedded engine.

Given the bundled MiniLM uploaded with `es-rag model upload`, when es-rag applies its assets and
ingests with embedding = cluster, then the cluster's ingest pipeline writes the vectors the local
model computes, and every hybrid path has the cluster embed the query.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cluster_model_fixture import CLUSTER_MODEL_ID, ClusterModel, run_cluster_cli
from elasticsearch import Elasticsearch

from es_rag import assets
from es_rag.cli import cli
from es_rag.config import PROJECT_ROOT, load_settings
from es_rag.connect import Capabilities, connect
from es_rag.embedding.cluster import (
    CLUSTER_EMBEDDING_PIPELINE,
    ClusterEmbedder,
    ClusterEmbeddingError,
    model_status,
)
from es_rag.embedding.cluster_upload import ModelUploadError, upload_model
from es_rag.embedding.factory import embedder_for
from es_rag.embedding.local import Embedder
from es_rag.engine.server import EngineServer
from es_rag.ingest import IngestError
from es_rag.ingest.index import ingest_paths
from es_rag.ingest.options import IngestOptions
from es_rag.retrieve import SearchParams, search, search_template, template_params

MODEL_ID = CLUSTER_MODEL_ID
QUESTION = "Which rank constant does reciprocal rank fusion use?"


def es_rag(engine: EngineServer, tmp_path: Path, *args: str) -> Result:
    """Run the CLI in this process against the session engine, with embedding = cluster."""
    return run_cluster_cli(engine, tmp_path / "data", *args)


Cluster = tuple[Elasticsearch, Capabilities, ClusterEmbedder]


@pytest.fixture
def cluster(engine: EngineServer, cluster_model: ClusterModel, es: Elasticsearch,
            tmp_path: Path) -> Iterator[Cluster]:
    """Assets applied with embedding = cluster; the client, capabilities and the embedder."""
    result = es_rag(engine, tmp_path, "apply", "--yes")
    assert result.exit_code == 0, result.output
    settings = load_settings(env={"ES_RAG_URL": engine.url, "ES_RAG_EMBEDDING": "cluster",
                                  "ES_RAG_EMBEDDING_MODEL_ID": MODEL_ID})
    client, caps = connect(settings)
    embedder = embedder_for(settings, client, caps)
    assert isinstance(embedder, ClusterEmbedder)
    yield client, caps, embedder
    es.ingest.delete_pipeline(id="chunks*")  # the shared engine keeps what `apply` stored
    for template in ("bm25", "hybrid", "knn"):
        es.delete_script(id=template)
    client.close()


def test_upload_traces_the_bundled_model_and_a_second_run_only_starts_it(
        engine: EngineServer, cluster_model: ClusterModel) -> None:
    uploaded, started = cluster_model.upload, cluster_model.start
    assert uploaded.exit_code == 0, uploaded.output
    assert f"model {MODEL_ID}: uploaded in 87 parts" in uploaded.output
    assert "not started (--start starts it)" in uploaded.output
    assert started.exit_code == 0, started.output
    assert "already in the cluster" in started.output and "deployment started" in started.output
    client = Elasticsearch(engine.url)
    config = client.ml.get_trained_models(model_id=MODEL_ID)["trained_model_configs"][0]
    options = config["inference_config"]["text_embedding"]
    assert options["embedding_size"] == 384
    bert = options["tokenization"]["bert"]
    assert bert["do_lower_case"] is True and bert["max_sequence_length"] == 256
    assert config["input"] == {"field_names": ["text_field"]}
    assert model_status(client, MODEL_ID) == "started"


def test_an_upload_that_was_cut_off_is_redone(engine: EngineServer,
                                              cluster_model: ClusterModel) -> None:
    client = Elasticsearch(engine.url)
    cut_off = "es-rag-test-cut-off"
    config = client.ml.get_trained_models(model_id=MODEL_ID)["trained_model_configs"][0]
    client.ml.put_trained_model(model_id=cut_off, model_type="pytorch",
                                inference_config=config["inference_config"],
                                input=config["input"])
    assert model_status(client, cut_off) == "partial"
    try:
        result = upload_model(client, "all-MiniLM-L6-v2", cut_off, start=False)
        assert result.uploaded and not result.started and result.parts == 87
        assert model_status(client, cut_off) == "uploaded"
        again = upload_model(client, "all-MiniLM-L6-v2", cut_off, start=False)
        assert not again.uploaded and again.parts == 0
    finally:
        client.ml.delete_trained_model(model_id=cut_off, force=True)


def test_a_model_not_on_this_machine_is_refused_before_anything_is_sent() -> None:
    nowhere = Elasticsearch("http://127.0.0.1:9")  # never contacted
    with pytest.raises(ModelUploadError, match="'acme/not-here' is not a local folder: .* "
                                               "never downloads"):
        upload_model(nowhere, "acme/not-here", "acme__not-here")


def test_without_a_started_model_es_rag_says_what_to_run(engine: EngineServer,
                                                        cluster_model: ClusterModel) -> None:
    settings = load_settings(env={"ES_RAG_URL": engine.url, "ES_RAG_EMBEDDING": "cluster",
                                  "ES_RAG_EMBEDDING_MODEL_ID": "es-rag-never-uploaded"})
    client, caps = connect(settings)
    with pytest.raises(ClusterEmbeddingError, match="not in the cluster: upload it with "
                                                    "`es-rag model upload`"):
        embedder_for(settings, client, caps)


def test_the_cluster_writes_the_vectors_the_local_model_computes(
        cluster: Cluster, embedder: Embedder) -> None:
    client, _, cluster_embedder = cluster
    report = ingest_paths(client, [PROJECT_ROOT / "docs"],
                          IngestOptions(index="chunks", embedder=cluster_embedder))
    assert report.files_failed == 0 and report.chunks_indexed > 20, report.failures
    hits = client.search(index="chunks", size=200, source=["text", "embedding", "model_id"],
                         query={"match_all": {}})["hits"]["hits"]
    assert len(hits) == report.chunks_indexed
    assert all("model_id" not in hit["_source"] for hit in hits)
    local = embedder.embed_documents([hit["_source"]["text"] for hit in hits])
    worst = max(abs(x - y) for hit, vector in zip(hits, local, strict=True)
                for x, y in zip(hit["_source"]["embedding"], vector, strict=True))
    assert worst < 1e-4
    # the same vectors through _infer, as rerankers and answer relevance ask for them
    inferred = cluster_embedder.embed_documents([hits[0]["_source"]["text"]])[0]
    assert math.isclose(sum(a * b for a, b in zip(inferred, local[0], strict=True)), 1.0,
                        abs_tol=1e-4)

    again = ingest_paths(client, [PROJECT_ROOT / "docs"],
                         IngestOptions(index="chunks", embedder=cluster_embedder))
    assert again.files_unchanged == report.files_parsed and again.chunks_indexed == 0


def test_every_hybrid_path_has_the_cluster_embed_the_query(
        cluster: Cluster, embedder: Embedder) -> None:
    client, caps, cluster_embedder = cluster
    ingest_paths(client, [PROJECT_ROOT / "docs"], IngestOptions(index="chunks",
                                                                embedder=cluster_embedder))
    params = SearchParams(mode="hybrid", size=3, explain=True)
    local_top = [h.chunk_id for h in search(client, caps, "chunks", QUESTION, params,
                                            embedder).hits]
    assert local_top and all(local_top)
    for path, path_caps in (("retriever", caps),
                            ("client_rrf", dataclasses.replace(caps, rrf_licensed=False))):
        result = search(client, path_caps, "chunks", QUESTION, params, cluster_embedder)
        assert result.path_used == path
        assert result.explain["embedded_by"] == "cluster" and "embed_ms" not in result.explain
        assert result.hits[0].source == "retrieval.md" and result.hits[0].knn_rank is not None
        assert [h.chunk_id for h in result.hits] == local_top


def test_the_search_templates_take_the_model_instead_of_a_vector(
        cluster: Cluster, engine: EngineServer, tmp_path: Path) -> None:
    client, _, cluster_embedder = cluster
    ingest_paths(client, [PROJECT_ROOT / "docs"], IngestOptions(index="chunks",
                                                                embedder=cluster_embedder))
    params = template_params(QUESTION, SearchParams(mode="hybrid", size=3),
                             cluster_embedder.query_vector_builder(QUESTION))
    assert params["model_id"] == MODEL_ID and "query_vector" not in params
    rendered = client.render_search_template(id="hybrid", params=params)["template_output"]
    knn = rendered["retriever"]["rrf"]["retrievers"][1]["knn"]
    assert knn["query_vector_builder"] == {"text_embedding": {"model_id": MODEL_ID,
                                                              "model_text": QUESTION}}
    assert "query_vector" not in knn
    for template in ("hybrid", "knn"):
        result = search_template(client, "chunks", template, params)
        assert result.hits and result.hits[0].source == "retrieval.md", template
    cli_result = es_rag(engine, tmp_path, "search", QUESTION, "--template", "knn", "--json")
    assert cli_result.exit_code == 0, cli_result.output
    assert json.loads(cli_result.output)["hits"][0]["source"] == "retrieval.md"


def test_a_chunk_the_model_cannot_embed_is_reported_and_redone_next_run(
        cluster: Cluster, tmp_path: Path) -> None:
    client, _, cluster_embedder = cluster
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "rrf.md").write_text("# RRF\n\nReciprocal rank fusion adds 1/(k + rank).\n")
    client.ml.stop_trained_model_deployment(model_id=MODEL_ID, force=True)  # pipeline uses it
    try:
        report = ingest_paths(client, [folder], IngestOptions(index="chunks",
                                                              embedder=cluster_embedder))
    finally:
        client.ml.start_trained_model_deployment(model_id=MODEL_ID, wait_for="started")
    assert report.files_failed == 1 and report.chunks_indexed == 0
    assert "the cluster refused a chunk" in report.failures[0].reason
    redone = ingest_paths(client, [folder],
                          IngestOptions(index="chunks", embedder=cluster_embedder))
    assert redone.files_parsed == 1 and redone.files_unchanged == 0 and redone.chunks_indexed


def test_ingest_asks_for_apply_when_the_cluster_pipeline_is_missing(
        engine: EngineServer, cluster_model: ClusterModel, chunk_index: str,
        tmp_path: Path) -> None:
    client = Elasticsearch(engine.url)
    embedder = ClusterEmbedder(client, MODEL_ID)
    with pytest.raises(IngestError, match=f"ingest pipeline '{CLUSTER_EMBEDDING_PIPELINE}'.*"
                                          "`es-rag apply` creates it"):
        ingest_paths(client, [tmp_path], IngestOptions(index=chunk_index, embedder=embedder))


def test_a_cluster_without_machine_learning_is_one_clear_line(tmp_path: Path) -> None:
    server = EngineServer(tmp_path / "basic", port=0, security=False).start()
    try:
        Elasticsearch(server.url).license.post_start_basic(acknowledge=True)
        result = CliRunner().invoke(cli, ["--url", server.url, "apply", "--yes"],
                                    env={"ES_RAG_EMBEDDING": "cluster",
                                         "ES_RAG_DATA": str(tmp_path / "data")})
    finally:
        server.stop()
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and 'embedding = "cluster" needs machine learning' in lines[0]
    assert "license basic" in lines[0] and 'set embedding = "local"' in lines[0]


def test_assets_apply_the_cluster_pipeline_only_with_embedding_cluster() -> None:
    local = assets.load_assets(PROJECT_ROOT)
    assert CLUSTER_EMBEDDING_PIPELINE not in [p.name for p in local.pipelines]
    cluster = assets.load_assets(PROJECT_ROOT, cluster_model_id="my-model")
    names = [p.name for p in cluster.pipelines]
    assert names[-1] == CLUSTER_EMBEDDING_PIPELINE and "chunks" in names
    body = cluster.pipelines[-1].body
    assert assets.embedding_processors(body) == [{
        "model_id": "my-model", "tag": "embed-text",
        "input_output": [{"input_field": "text", "output_field": "embedding"}]}]
    assert body["processors"][0] == {"pipeline": {"name": "chunks", "tag": "chunks"}}
