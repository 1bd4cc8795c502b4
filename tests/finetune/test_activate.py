"""Putting a fine-tuned model into service: re-embedding into the next index version behind the
alias, refused when the judgments measure it worse, recorded in retrieval.json, rolled back."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from retrieve.corpus import CORPUS, index_corpus, shared_embedder

from es_rag import assets
from es_rag.config import Settings
from es_rag.connect import detect_capabilities
from es_rag.embedding.factory import embedding_model
from es_rag.embedding.local import model_location
from es_rag.evaluate.judgments import Judgments
from es_rag.finetune import activate
from es_rag.finetune.activate import ActivationError, activate_embeddings, activate_reranker
from es_rag.finetune.manifest import ModelManifest, model_checksum
from es_rag.finetune.training import keep_layers
from es_rag.retrieve.defaults import read_file
from es_rag.retrieve.params import RerankSettings
from es_rag.retrieve.rerank import build_reranker

ALIAS = "activate-chunks"
JUDGMENTS = Judgments("sample", {
    "q1": "quota error when the disk is full",
    "q2": "how long does the notebook battery last",
    "q3": "how are BM25 and vector rankings merged",
    "q4": "when was the Eiffel Tower built",
}, {"q1": {"storage": 1}, "q2": {"power": 1}, "q3": {"rrf": 1}, "q4": {"eiffel": 1}})


class ScrambledEmbedder:
    """A model that learned nothing: the same random vector family for every text."""

    def __init__(self) -> None:
        self.rng = random.Random(7)

    def _vector(self) -> list[float]:
        return [self.rng.uniform(-1, 1) for _ in range(384)]

    def embed_query(self, text: str) -> list[float]:
        return self._vector()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector() for _ in texts]


@pytest.fixture
def client(engine: Any) -> Iterator[Elasticsearch]:
    es = Elasticsearch(engine.url, request_timeout=60)
    index_corpus(es, f"{ALIAS}-v1")
    es.indices.update_aliases(actions=[{"add": {"index": f"{ALIAS}-v1", "alias": ALIAS,
                                                "is_write_index": True}}])
    yield es
    es.options(ignore_status=404).indices.delete(index=f"{ALIAS}-v*")
    es.close()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder as `finetune embeddings` leaves it (the packaged weights, a manifest)."""
    folder = tmp_path_factory.mktemp("models") / "embeddings-v1"
    shutil.copytree(model_location("all-MiniLM-L6-v2"), folder,
                    ignore=shutil.ignore_patterns("onnx"))
    ModelManifest("embeddings", 1, "all-MiniLM-L6-v2", "base", {}, {},
                  checksum=model_checksum(folder)).write(folder)
    return folder


@pytest.fixture(scope="module")
def reranker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reranker folder as `finetune reranker` leaves it: the packaged weights (one layer kept)
    under an untrained one-logit head, trained at 64 tokens, blended at weight 1."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path_factory.mktemp("models") / "reranker-v1"
    location = model_location("all-MiniLM-L6-v2")
    model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=1,
                                                               local_files_only=True)
    keep_layers(model, 1)
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(location, local_files_only=True).save_pretrained(str(folder))
    ModelManifest("reranker", 1, "all-MiniLM-L6-v2", "base", {}, {"max_seq_length": 64},
                  {"blend": {"weight": 1.0}}, checksum=model_checksum(folder)).write(folder)
    return folder


def test_a_reranker_is_gated_on_the_judgments_at_its_trained_length(
        client: Elasticsearch, reranker: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    built: list[RerankSettings] = []

    def recording(settings: RerankSettings, embedder: Any) -> Any:
        built.append(settings)
        return build_reranker(settings, embedder)
    monkeypatch.setattr(activate, "build_reranker", recording)
    (tmp_path / "retrieval.json").write_text('{"mode": "hybrid+rerank"}')
    done = activate_reranker(client, caps, ALIAS, JUDGMENTS, reranker, shared_embedder(),
                             tmp_path)
    # both sides measured: the serving (embedding) reranker and the candidate, as it will serve
    assert done.serving is not None and done.candidate is not None
    assert [(s.model, s.max_length) for s in built] == [(str(reranker.resolve()), 64)]
    rerank = read_file(tmp_path).params.rerank
    if done.candidate < done.serving:  # refused: nothing recorded
        assert not done.applied and "refused" in done.notes[0]
        assert rerank.model is None and "reranker" not in read_file(tmp_path).models
    else:
        assert done.applied and (rerank.model, rerank.max_length) == (
            str(reranker.resolve()), 64)
    forced = activate_reranker(client, caps, ALIAS, JUDGMENTS, reranker, shared_embedder(),
                               tmp_path, force=True)
    assert forced.applied and read_file(tmp_path).params.rerank.max_length == 64


def test_a_worse_model_is_refused_and_the_serving_version_stays(
        client: Elasticsearch, model: Path, tmp_path: Path) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    (tmp_path / "retrieval.json").write_text('{"mode": "knn"}')  # what `eval` measures: kNN
    done = activate_embeddings(client, caps, ALIAS, JUDGMENTS, model, shared_embedder(),
                               ScrambledEmbedder(), tmp_path)
    assert not done.applied and done.candidate is not None and done.serving is not None
    assert done.candidate < done.serving
    assert assets.alias_target(client, ALIAS) == f"{ALIAS}-v1"
    assert not client.indices.exists(index=f"{ALIAS}-v2")
    assert read_file(tmp_path).models == {}


def test_a_model_as_good_moves_the_alias_is_recorded_and_rolls_back(
        client: Elasticsearch, model: Path, tmp_path: Path) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    done = activate_embeddings(client, caps, ALIAS, JUDGMENTS, model, shared_embedder(),
                               shared_embedder(), tmp_path)
    assert done.applied and done.candidate == done.serving
    assert assets.alias_target(client, ALIAS) == f"{ALIAS}-v2"
    assert int(client.count(index=f"{ALIAS}-v2")["count"]) == len(CORPUS)
    recorded = read_file(tmp_path).models["embedding"]
    assert recorded == {"path": str(model.resolve()), "version": 1,
                        "checksum": model_checksum(model)}
    assert embedding_model(Settings(assets=tmp_path)) == str(model.resolve())
    assert assets.rollback(client, ALIAS) == (f"{ALIAS}-v2", f"{ALIAS}-v1")


def test_a_changed_model_folder_or_the_wrong_kind_is_refused(
        client: Elasticsearch, model: Path, tmp_path: Path) -> None:
    caps = detect_capabilities(client, "engine", client.info().body, embedded=True)
    with pytest.raises(ActivationError, match="not a reranker"):
        activate_reranker(client, caps, ALIAS, None, model, shared_embedder(), tmp_path)
    changed = tmp_path / "changed"
    shutil.copytree(model, changed)
    (changed / "config.json").write_text((changed / "config.json").read_text() + " ")
    with pytest.raises(ActivationError, match="changed since training"):
        activate_embeddings(client, caps, ALIAS, None, changed, shared_embedder(),
                            shared_embedder(), tmp_path)
    assert assets.alias_target(client, ALIAS) == f"{ALIAS}-v1"
