"""Search assets as code: apply on an empty node, idempotence, versions, rollback, bad files."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from es_rag import assets
from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities, detect_capabilities


@pytest.fixture
def asset_dir(tmp_path: Path) -> Path:
    """A copy of the repository's assets that a test may edit."""
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder)
    return tmp_path


@pytest.fixture
def caps(es: Elasticsearch, engine) -> Capabilities:
    """Capabilities of a node with none of the repository's pipelines or templates on it."""
    es.options(ignore_status=404).ingest.delete_pipeline(id="chunks")
    for name in ("bm25", "knn", "hybrid"):
        es.options(ignore_status=404).delete_script(id=name)
    return detect_capabilities(es, engine.url, es.info().body, embedded=True)


def _edit_mapping(asset_dir: Path, edit) -> None:
    path = asset_dir / "mappings" / "chunks.json"
    body = json.loads(path.read_text())
    edit(body)
    path.write_text(json.dumps(body, indent=2))


def _chunk(i: int) -> dict:
    return {"chunk_id": f"d{i}:0", "doc_id": f"d{i}", "text": f"chunk number {i} about apples",
            "title": "Fruit", "acl": ["public"]}


def test_apply_on_an_empty_node_creates_everything_and_a_second_apply_is_a_no_op(
        es: Elasticsearch, caps: Capabilities, asset_dir: Path) -> None:
    loaded = assets.load_assets(asset_dir, embedding_dims=384)
    applied = assets.apply(es, caps, loaded)
    kinds = {(c.kind, c.name, c.action) for c in applied}
    assert ("index", "chunks", "create") in kinds
    assert ("pipeline", "chunks", "create") in kinds
    assert {("template", name, "create") for name in ("bm25", "knn", "hybrid")} <= kinds
    assert assets.alias_target(es, "chunks") == "chunks-v1"
    assert es.ingest.get_pipeline(id="chunks")["chunks"]["processors"]
    assert assets.plan(es, caps, loaded) == []

    es.index(index="chunks", id="a", document=_chunk(1), refresh=True)
    stored = es.get(index="chunks", id="a")["_source"]
    assert stored["indexed_at"] and stored["updated_at"], "the default pipeline ran"


def test_compatible_change_is_applied_in_place(es: Elasticsearch, caps: Capabilities,
                                                asset_dir: Path) -> None:
    assets.apply(es, caps, assets.load_assets(asset_dir))
    _edit_mapping(asset_dir, lambda b: b["mappings"]["properties"].update(
        {"department": {"type": "keyword"}}))
    loaded = assets.load_assets(asset_dir)
    [change] = assets.plan(es, caps, loaded)
    assert (change.action, change.target) == ("update", "chunks-v1")
    assert '+      "department"' in change.diff
    assets.apply(es, caps, loaded)
    mapping = es.indices.get_mapping(index="chunks-v1")["chunks-v1"]["mappings"]
    assert mapping["properties"]["department"] == {"type": "keyword"}
    assert assets.plan(es, caps, loaded) == []


def test_new_analyzer_creates_version_2_reindexes_and_swaps_without_failed_searches(
        es: Elasticsearch, caps: Capabilities, asset_dir: Path) -> None:
    assets.apply(es, caps, assets.load_assets(asset_dir))
    for i in range(50):
        es.index(index="chunks", id=str(i), document=_chunk(i))
    es.indices.refresh(index="chunks")

    _edit_mapping(asset_dir, lambda b: b["mappings"]["properties"]["text"].update(
        {"analyzer": "standard"}))
    loaded = assets.load_assets(asset_dir)
    [change] = assets.plan(es, caps, loaded)
    assert (change.action, change.target) == ("new_version", "chunks-v2")
    assert "analyzer" in change.reason

    failures: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    def search_continuously() -> None:
        while not stop.is_set():
            try:
                counts.append(es.search(index="chunks", query={"match": {"text": "apples"}},
                                        size=0)["hits"]["total"]["value"])
            except Exception as exc:  # noqa: BLE001 - every failure counts
                failures.append(repr(exc))

    searcher = threading.Thread(target=search_continuously)
    searcher.start()
    try:
        assets.apply(es, caps, loaded)
    finally:
        stop.set()
        searcher.join()
    assert failures == []
    assert counts and all(count == 50 for count in counts)
    assert assets.alias_target(es, "chunks") == "chunks-v2"
    assert es.count(index="chunks-v2")["count"] == 50
    assert es.indices.exists(index="chunks-v1"), "the previous version stays until pruned"

    assert assets.rollback(es, "chunks") == ("chunks-v2", "chunks-v1")
    assert assets.alias_target(es, "chunks") == "chunks-v1"
    es.indices.update_aliases(actions=[
        {"remove": {"index": "chunks-v1", "alias": "chunks"}},
        {"add": {"index": "chunks-v2", "alias": "chunks", "is_write_index": True}}])
    assert assets.prune_versions(es, "chunks", keep=0) == ["chunks-v1"]
    assert not es.indices.exists(index="chunks-v1")


def test_json_syntax_error_names_file_and_line(asset_dir: Path) -> None:
    (asset_dir / "pipelines" / "broken.json").write_text('{\n  "processors": [\n    {,}\n]}')
    with pytest.raises(assets.AssetError, match=r"broken.json:3:\d+: invalid JSON"):
        assets.load_assets(asset_dir)


def test_vector_dims_must_match_the_embedding_model(asset_dir: Path) -> None:
    with pytest.raises(assets.AssetError, match="dims 384 but the configured embedding model "
                                                "produces 768-dimensional vectors"):
        assets.load_assets(asset_dir, embedding_dims=768)


def test_template_without_example_params_is_refused(asset_dir: Path) -> None:
    (asset_dir / "templates" / "search" / "knn.params.json").unlink()
    with pytest.raises(assets.AssetError, match="missing knn.params.json"):
        assets.load_assets(asset_dir)


def test_template_that_does_not_render_a_search_is_refused_before_anything_changes(
        es: Elasticsearch, caps: Capabilities, asset_dir: Path) -> None:
    (asset_dir / "templates" / "search" / "bm25.mustache").write_text('{"size": {{size}}}')
    with pytest.raises(assets.ApplyError, match="bm25.mustache: the rendered template has no"):
        assets.apply(es, caps, assets.load_assets(asset_dir))
    assert not es.indices.exists_alias(name="chunks")


def test_a_failed_reindex_leaves_the_old_version_serving(
        es: Elasticsearch, caps: Capabilities, asset_dir: Path) -> None:
    assets.apply(es, caps, assets.load_assets(asset_dir))
    es.index(index="chunks", id="1", document=_chunk(1), refresh=True)
    _edit_mapping(asset_dir, lambda b: b["mappings"]["properties"]["doc_id"].update(
        {"type": "long"}))
    with pytest.raises(assets.ApplyError, match="chunks"):
        assets.apply(es, caps, assets.load_assets(asset_dir))
    assert assets.alias_target(es, "chunks") == "chunks-v1"
    assert not es.indices.exists(index="chunks-v2")
    assert es.count(index="chunks")["count"] == 1
