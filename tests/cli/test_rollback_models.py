"""`es-rag rollback` after `es-rag finetune activate` of an embedding model: the alias goes back
to the previous version and retrieval.json's embedding model with it, as recorded per version."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from es_rag_processes import DocsEngine, run

from es_rag.assets import alias_target
from es_rag.config import PROJECT_ROOT
from es_rag.embedding.local import model_location
from es_rag.finetune.manifest import ModelManifest, model_checksum
from es_rag.retrieve.defaults import read_file


@pytest.fixture
def chunks(docs_engine: DocsEngine) -> Iterator[Elasticsearch]:
    """A client of the docs engine; the alias is put back and versions made here deleted."""
    env = docs_engine.env
    url = (Path(env["ES_RAG_DATA"]) / "engine.url").read_text().strip()
    client = Elasticsearch(url, basic_auth=("elastic", docs_engine.password),
                           request_timeout=120)
    serving = alias_target(client, "chunks")
    yield client
    if alias_target(client, "chunks") != serving:
        client.indices.update_aliases(actions=[
            {"remove": {"index": "chunks-v*", "alias": "chunks"}},
            {"add": {"index": serving, "alias": "chunks", "is_write_index": True}}])
    newer = [name for name in client.indices.get(index="chunks-v*").body if name > serving]
    for name in newer:
        client.indices.delete(index=name)
    client.close()


def _model(folder: Path, version: int) -> Path:
    """A model folder as `finetune embeddings` leaves it (the packaged weights, a manifest)."""
    shutil.copytree(model_location("all-MiniLM-L6-v2"), folder,
                    ignore=shutil.ignore_patterns("onnx"))
    ModelManifest("embeddings", version, "all-MiniLM-L6-v2", "base", {}, {},
                  checksum=model_checksum(folder)).write(folder)
    return folder


@pytest.mark.timeout(900)
def test_rollback_restores_the_embedding_model_recorded_for_each_version(
        docs_engine: DocsEngine, chunks: Elasticsearch, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy2(PROJECT_ROOT / "retrieval.json", assets / "retrieval.json")
    env = {**docs_engine.env, "ES_RAG_ASSETS": str(assets), "ES_RAG_EMBEDDING_BACKEND": "torch"}
    first, second = _model(tmp_path / "embeddings-v1", 1), _model(tmp_path / "embeddings-v2", 2)
    base = alias_target(chunks, "chunks")

    for model in (first, second):
        done = run("finetune", "activate", str(model), "--force", env=env, timeout=900)
        assert done.returncode == 0, done.stderr
    assert read_file(assets).models["embedding"]["path"] == str(second.resolve())
    newest = alias_target(chunks, "chunks")

    back = run("rollback", env=env)
    assert back.returncode == 0, back.stderr
    middle = alias_target(chunks, "chunks")
    assert back.stdout.splitlines()[0] == f"chunks: {newest} -> {middle}"
    assert read_file(assets).models["embedding"] == {
        "path": str(first.resolve()), "version": 1, "checksum": model_checksum(first)}
    assert f"embedding model {first.resolve()} (v1), as recorded for {middle}" in back.stdout

    back = run("rollback", env=env)
    assert back.returncode == 0, back.stderr
    assert alias_target(chunks, "chunks") == base
    assert "embedding" not in read_file(assets).models  # the configured embedding_model again
    assert "models.embedding removed" in back.stdout
    searched = run("search", "--mode", "knn", "--json", "how are passages embedded", env=env)
    assert searched.returncode == 0 and '"path_used": "knn"' in searched.stdout
