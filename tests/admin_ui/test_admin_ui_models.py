"""The evaluation page shows the models in use and each fine-tune's before/after metrics."""

from __future__ import annotations

import re
from pathlib import Path

from finetune.model_folders import write_model_folders
from flask.testing import FlaskClient

from admin_ui.models_view import models_view
from es_rag.config import Settings
from es_rag.finetune.manifest import model_checksum


def _fine_tune(page: str, folder: str) -> str:
    match = re.search(rf'<div class="fine-tune" data-folder="{folder}">(.*?)</div>\s*'
                      r'(?=<div class="fine-tune"|</section>)', page, re.S)
    assert match, f"{folder} is not listed"
    return match.group(1)


def test_the_page_shows_models_in_use_and_each_fine_tune_before_and_after(
        browser_client: FlaskClient, settings: Settings, assets_dir: Path) -> None:
    folders = write_model_folders(settings.data, assets_dir)
    response = browser_client.get("/evaluation")
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    in_use = re.search(r'<tr data-role="embedding">(.*?)</tr>', page, re.S).group(1)
    checksum = model_checksum(folders["embeddings-v1"])
    assert str(folders["embeddings-v1"].resolve()) in in_use
    assert "fine-tuned (retrieval.json)" in in_use and "v1" in in_use
    assert f'title="{checksum}"' in in_use and settings.embedding_backend in in_use
    reranker = re.search(r'<tr data-role="reranker">(.*?)</tr>', page, re.S).group(1)
    assert "built-in (no rerank.model)" in reranker  # the reranker was not activated

    embeddings = _fine_tune(page, "embeddings-v1")
    assert "active" in embeddings and "embeddings v1" in embeddings
    assert "judgments:train.qrels" in embeddings and 'title="' + "f1" * 32 + '"' in embeddings
    assert "2026-12-02T10:00:00+00:00" in embeddings
    assert re.findall(r'data-metric="([^"]+)"', embeddings) == ["ndcg@10", "recall@10", "mrr@10"]
    ndcg = re.search(r'<tr data-metric="ndcg@10">(.*?)</tr>', embeddings, re.S).group(1)
    assert re.findall(r">([-+]?\d\.\d{4})<", ndcg) == ["0.6123", "0.6842", "+0.0719", "0.6811"]

    reranker_v1 = _fine_tune(page, "reranker-v1")
    assert "active" not in reranker_v1 and "ONNX int8" not in reranker_v1
    ndcg = re.search(r'<tr data-metric="ndcg@10">(.*?)</tr>', reranker_v1, re.S).group(1)
    assert re.findall(r">([-+]?\d\.\d{4})<", ndcg) == ["0.6123", "0.5904", "-0.0219"]
    assert "Before: base model embedding similarity." in reranker_v1

    assert "no es-rag-model.json" in _fine_tune(page, "embeddings-v2")
    assert "unreadable manifest" in _fine_tune(page, "reranker-v2")
    order = [page.index(f'data-folder="{name}"') for name in
             ("embeddings-v1", "reranker-v1", "embeddings-v2", "reranker-v2")]
    assert order == sorted(order)  # readable ones first, by kind


def test_without_fine_tunes_the_page_names_the_configured_models(
        browser_client: FlaskClient, settings: Settings) -> None:
    page = browser_client.get("/evaluation").get_data(as_text=True)
    in_use = re.search(r'<tr data-role="embedding">(.*?)</tr>', page, re.S).group(1)
    assert f"<code>{settings.embedding_model}</code>" in in_use
    assert "configured (embedding_model)" in in_use
    assert "No fine-tuned model yet" in page


def test_an_unreadable_retrieval_file_is_reported_not_raised(
        browser_client: FlaskClient, settings: Settings, assets_dir: Path) -> None:
    write_model_folders(settings.data, assets_dir)
    (assets_dir / "retrieval.json").write_text('{"models": 3}', encoding="utf-8")
    response = browser_client.get("/evaluation")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "models must be an object (the configured models are shown)" in page
    assert "active" not in _fine_tune(page, "embeddings-v1")


def test_a_manifest_of_the_wrong_shape_is_listed_with_its_problem(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "models" / "embeddings-v3"
    folder.mkdir(parents=True)
    (folder / "es-rag-model.json").write_text('{"kind": "embeddings"}', encoding="utf-8")
    (tmp_path / "data" / "models" / "all-MiniLM-L6-v2").mkdir()  # an ONNX export cache
    view = models_view(Settings(data=tmp_path / "data", assets=tmp_path))
    assert [f.folder for f in view.fine_tunes] == ["embeddings-v3"]
    assert "unreadable manifest" in view.fine_tunes[0].problem
