"""Inference endpoints as assets (`inference/<id>.json`) on the session engine: created by
`apply`, settled in `plan`, task settings changed through `_update`, a new model recreated
unless a semantic_text field uses the endpoint, and bad files refused before anything is sent.
The engine's deterministic test services stand in for real models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag import assets
from es_rag.connect import detect_capabilities

EMBED = {"task_type": "text_embedding", "service": "text_embedding_test_service",
         "service_settings": {"model": "notes-model", "dimensions": 4, "api_key": "secret"},
         "task_settings": {"temperature": 1}}
RERANK = {"task_type": "rerank", "service": "test_reranking_service",
          "service_settings": {"model_id": "grader", "api_key": "secret"}}
NOTES = {"settings": {"number_of_shards": 1}, "mappings": {"properties": {
    "body": {"type": "text"}, "body_semantic": {"type": "semantic_text",
                                                "inference_id": "notes-embed"}}}}


def _write(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))


@pytest.fixture
def folder(tmp_path: Path, es: Elasticsearch) -> Iterator[Path]:
    """Assets with a semantic_text mapping on `notes-embed`, a rerank endpoint that
    retrieval.json names, and an endpoint nothing uses."""
    _write(tmp_path / "mappings" / "notes.json", NOTES)
    _write(tmp_path / "inference" / "notes-embed.json", EMBED)
    _write(tmp_path / "inference" / "notes-rerank.json", RERANK)
    _write(tmp_path / "inference" / "unused.json", RERANK)
    _write(tmp_path / "retrieval.json", {"rerank": {"inference_id": "notes-rerank"}})
    yield tmp_path
    quiet = es.options(ignore_status=404)
    quiet.indices.delete(index="notes-v*")
    for name in ("notes-embed", "notes-rerank", "unused"):
        quiet.inference.delete(inference_id=name, force=True)
    for stored in ("bm25", "hybrid", "knn", "es-rag-retrieval"):  # what apply stored
        quiet.delete_script(id=stored)


def _caps(es: Elasticsearch) -> Any:
    return detect_capabilities(es, "test", es.info().body, embedded=True)


def _plan(es: Elasticsearch, root: Path) -> list[tuple[str, str, str]]:
    return [(c.action, c.kind, c.name)
            for c in assets.plan(es, _caps(es), assets.load_assets(root))]


def test_endpoints_in_use_are_created_then_plan_settles(es: Elasticsearch,
                                                        folder: Path) -> None:
    loaded = assets.load_assets(folder)
    assert sorted(a.name for a in loaded.inference) == ["notes-embed", "notes-rerank"]
    applied = assets.apply(es, _caps(es), loaded)
    # endpoints first: the mapping names one
    assert [(c.action, c.kind, c.name) for c in applied][:2] == [
        ("create", "inference", "notes-embed"), ("create", "inference", "notes-rerank")]
    assert _plan(es, folder) == []  # the cluster's dimensions, similarity, ... are no change
    assert es.options(ignore_status=404).inference.get(inference_id="unused").meta.status \
        == 404


def test_task_settings_change_through_update_and_a_new_model_recreates(
        es: Elasticsearch, folder: Path) -> None:
    assets.apply(es, _caps(es), assets.load_assets(folder))
    _write(folder / "inference" / "notes-embed.json",
           {**EMBED, "task_settings": {"temperature": 2}})
    assert _plan(es, folder) == [("update", "inference", "notes-embed")]
    assets.apply(es, _caps(es), assets.load_assets(folder))
    live = es.inference.get(inference_id="notes-embed")["endpoints"][0]
    assert live["task_settings"] == {"temperature": 2}
    assert _plan(es, folder) == []

    # the rerank endpoint is used by no index: a new model recreates it
    _write(folder / "inference" / "notes-rerank.json",
           {**RERANK, "service_settings": {"model_id": "grader-2", "api_key": "secret"}})
    changes = assets.plan(es, _caps(es), assets.load_assets(folder))
    assert [(c.action, c.name) for c in changes] == [("recreate", "notes-rerank")]
    assert "service_settings.model_id 'grader' -> 'grader-2'" in changes[0].reason
    assets.apply(es, _caps(es), assets.load_assets(folder))
    live = es.inference.get(inference_id="notes-rerank")["endpoints"][0]
    assert live["service_settings"]["model_id"] == "grader-2"
    assert _plan(es, folder) == []


def test_an_endpoint_a_semantic_text_field_uses_is_not_recreated_under_it(
        es: Elasticsearch, folder: Path) -> None:
    assets.apply(es, _caps(es), assets.load_assets(folder))
    _write(folder / "inference" / "notes-embed.json",
           {**EMBED, "service_settings": {**EMBED["service_settings"], "dimensions": 8}})
    with pytest.raises(assets.ApplyError) as refused:
        assets.apply(es, _caps(es), assets.load_assets(folder))
    assert "semantic_text fields of notes-v1 use it" in str(refused.value)
    assert "under a new id" in str(refused.value)
    live = es.inference.get(inference_id="notes-embed")["endpoints"][0]
    assert live["service_settings"]["dimensions"] == 4  # still serving

    # the way through: a new id, named by the mapping, migrates the index to a new version
    (folder / "inference" / "notes-embed.json").unlink()
    _write(folder / "inference" / "notes-embed-8.json",
           {**EMBED, "service_settings": {**EMBED["service_settings"], "dimensions": 8}})
    mapping = json.loads(json.dumps(NOTES))
    mapping["mappings"]["properties"]["body_semantic"]["inference_id"] = "notes-embed-8"
    _write(folder / "mappings" / "notes.json", mapping)
    try:
        assert _plan(es, folder) == [("create", "inference", "notes-embed-8"),
                                     ("new_version", "index", "notes")]
        assets.apply(es, _caps(es), assets.load_assets(folder))
        assert _plan(es, folder) == []
    finally:
        es.options(ignore_status=404).indices.delete(index="notes-v*")
        es.options(ignore_status=404).inference.delete(inference_id="notes-embed-8",
                                                       force=True)


@pytest.mark.parametrize(("name", "body", "problem"), [
    ("Bad-Id", RERANK, "'Bad-Id' is not a valid inference id"),
    ("x", {**RERANK, "model_id": "m"}, "unknown key(s) model_id"),
    ("x", {"service": "elasticsearch"}, "task_type must be one of"),
    ("x", {"task_type": "rerank"}, "the endpoint needs a 'service'"),
])
def test_a_bad_endpoint_file_is_refused_naming_it(tmp_path: Path, name: str,
                                                  body: dict[str, Any], problem: str) -> None:
    _write(tmp_path / "mappings" / "notes.json", NOTES)
    _write(tmp_path / "inference" / f"{name}.json", body)
    with pytest.raises(assets.AssetError) as refused:
        assets.load_assets(tmp_path)
    assert f"{name}.json" in str(refused.value) and problem in str(refused.value)
