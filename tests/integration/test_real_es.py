"""The same stories as on the embedded engine, on real Elasticsearch 8.19 and 9.x."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from es_rag import assets
from es_rag.cli import cli
from es_rag.config import PROJECT_ROOT, load_settings
from es_rag.connect import connect
from es_rag.ingest.options import IngestOptions

pytestmark = pytest.mark.real_es


def test_status_reports_the_real_cluster_and_the_retriever_path(real_es_url: str) -> None:
    result = CliRunner().invoke(cli, ["--url", real_es_url, "status", "--json"])
    assert result.exit_code == 0, result.output
    caps = json.loads(result.output.splitlines()[-1])["capabilities"]
    assert caps["engine"] == "elasticsearch"
    assert caps["major"] in (8, 9)
    assert caps["license_type"] == "trial"
    assert caps["hybrid_path"] == "retriever"


def test_apply_ingest_and_hybrid_search_on_every_path(real_es_url: str,
                                                     real_es: Elasticsearch) -> None:
    from es_rag.embedding.local import Embedder
    from es_rag.ingest import ingest_paths
    from es_rag.retrieve import SearchParams, search

    settings = load_settings(env={"ES_RAG_URL": real_es_url})
    client, caps = connect(settings)
    assets.apply(client, caps, assets.load_assets(PROJECT_ROOT, embedding_dims=384))
    assert assets.plan(client, caps, assets.load_assets(PROJECT_ROOT)) == []
    embedder = Embedder()
    report = ingest_paths(client, [PROJECT_ROOT / "docs"],
                          IngestOptions(index="chunks", embedder=embedder))
    assert report.files_failed == 0 and report.chunks_indexed > 0

    question = "How are BM25 and kNN results fused?"
    params = SearchParams(mode="hybrid", size=5, explain=True)
    paths = {"retriever": caps}
    if caps.major == 8:
        paths["rank_rrf"] = dataclasses.replace(caps, retriever=False)
    tops = {}
    for name, path_caps in paths.items():
        result = search(client, path_caps, "chunks", question, params, embedder)
        assert result.path_used == name
        tops[name] = [hit.chunk_id for hit in result.hits]
    client.license.post_start_basic(acknowledge=True)
    _, basic_caps = connect(settings)
    assert basic_caps.hybrid_path == "client_rrf"
    result = search(client, basic_caps, "chunks", question, params, embedder)
    assert result.path_used == "client_rrf"
    tops["client_rrf"] = [hit.chunk_id for hit in result.hits]
    assert len({tuple(top[:3]) for top in tops.values()}) == 1, tops
