"""`es-rag finetune embeddings` and `es-rag finetune reranker` as a team runs them: a few training
steps on a handful of SciFact, a versioned model folder with its manifest, an ONNX int8 export
of the fine-tuned embedding model, and a reranker that `hybrid+rerank` can load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from es_rag_processes import DocsEngine, run
from finetune.scifact_sample import write_sample

from es_rag.embedding.local import Embedder
from es_rag.embedding.onnx_model import OnnxEmbedder
from es_rag.finetune.data import from_dataset
from es_rag.finetune.manifest import model_checksum, read_manifest
from es_rag.retrieve.defaults import read_file
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.rerank import CrossEncoderReranker

TINY = ("--max-steps", "2", "--batch-size", "4", "--max-seq-length", "64", "--json")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("finetune") / "scifact-sample")


def _poisoned(sample: Path, target: Path) -> Path:
    """The sample with test judgments that call every document relevant to every query."""
    shutil.copytree(sample, target)
    docs = [json.loads(line)["_id"] for line in (target / "corpus.jsonl").open()]
    queries = [json.loads(line)["_id"] for line in (target / "queries.jsonl").open()]
    (target / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t2\n" for q in queries for d in docs))
    return target


@pytest.mark.timeout(900)  # training and the ONNX export, on a shared 2-core machine
def test_finetune_embeddings_writes_a_model_with_manifest_and_int8_export(
        docs_engine: DocsEngine, sample: Path, tmp_path: Path) -> None:
    dataset = _poisoned(sample, tmp_path / "scifact-sample")
    output = tmp_path / "embeddings-v1"
    done = run("finetune", "embeddings", "--dataset", str(dataset), "--output", str(output),
               *TINY, env=docs_engine.env, timeout=900)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout.strip().splitlines()[-1])
    assert manifest["kind"] == "embeddings" and manifest["base_model"] == "all-MiniLM-L6-v2"
    assert manifest["metrics"]["steps"] == 2
    assert manifest["parameters"]["learning_rate"] == 1e-4  # the embedding trainer's default
    assert set(manifest["metrics"]["held_out"]) >= {"before", "after", "after_onnx_int8"}
    # the poisoned test judgments were never read: the data is the clean sample's
    assert manifest["data"]["fingerprint"] == from_dataset(sample).fingerprint
    assert read_manifest(output).checksum == model_checksum(output) == manifest["checksum"]
    assert "held-out before" in done.stdout and "train" in done.stderr  # the progress bar
    assert (output / "onnx" / "model-int8.onnx").is_file()
    torch_vector = Embedder(str(output)).embed_query("vitamin D and bone density")
    int8_vector = OnnxEmbedder(str(output), fallback_root=tmp_path,
                               quantized=True).embed_query("vitamin D and bone density")
    assert sum(a * b for a, b in zip(torch_vector, int8_vector, strict=True)) > 0.98


@pytest.mark.timeout(900)
def test_finetune_reranker_trains_a_cross_encoder_hybrid_rerank_can_use(
        docs_engine: DocsEngine, sample: Path, tmp_path: Path) -> None:
    output = tmp_path / "reranker-v1"
    done = run("finetune", "reranker", "--dataset", str(sample), "--output", str(output),
               "--layers", "2", *TINY, env=docs_engine.env, timeout=900)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout.strip().splitlines()[-1])
    assert manifest["kind"] == "reranker" and manifest["metrics"]["steps"] == 2
    # a smaller reranker: the base model's first two layers, saved and exported as such
    assert manifest["parameters"]["layers"] == 2
    assert json.loads((output / "config.json").read_text())["num_hidden_layers"] == 2
    assert set(manifest["metrics"]["held_out"]) >= {"before", "after", "after_onnx_int8"}
    assert (output / "onnx" / "sequence-classification" / "model-int8.onnx").is_file()
    assert read_manifest(output).checksum == model_checksum(output)  # the export is not in it
    assert manifest["parameters"]["loss"] == "listwise softmax"
    # the reranker's defaults where TINY sets none
    assert (manifest["parameters"]["learning_rate"], manifest["parameters"]["negatives"],
            manifest["parameters"]["epochs"]) == (1e-4, 3, 4)
    # the blend weight was chosen on the held-out query's hybrid results, and is applied
    blending = manifest["metrics"]["blend"]
    assert blending["queries"] == 1 and 0.0 <= blending["weight"] <= 1.0
    assert set(blending["ndcg@10"]) == {f"{w / 20:g}" for w in range(21)}
    reranker = CrossEncoderReranker(output, top_n=3)
    assert reranker.weight == blending["weight"]
    hits = [Hit(chunk_id=f"c{n}", doc_id=f"d{n}", score=1.0, text=text) for n, text in
            enumerate(["Bread rises with yeast.", "Vitamin D deficiency weakens bones.",
                       "Stock markets fell."])]
    ranked = reranker.rerank("does vitamin D deficiency affect bone health?", hits)
    assert not reranker.warnings
    assert sorted(h.chunk_id for h in ranked) == ["c0", "c1", "c2"]
    assert all(h.rerank_score is not None for h in ranked)

    assets = tmp_path / "assets"
    assets.mkdir()
    env = {**docs_engine.env, "ES_RAG_ASSETS": str(assets)}
    unmeasured = run("finetune", "activate", str(output), env=env)
    assert unmeasured.returncode == 2 and "--judgments" in unmeasured.stderr
    activated = run("finetune", "activate", str(output), "--force", "--json", env=env)
    assert activated.returncode == 0, activated.stderr
    assert "run `es-rag apply` to serve it" in activated.stdout
    retrieval = read_file(assets)
    assert retrieval.params.rerank.model == str(output.resolve())
    assert retrieval.params.rerank.max_length == 64  # the length it was trained at
    assert retrieval.models["reranker"] == {"path": str(output.resolve()), "version": 1,
                                            "checksum": manifest["checksum"]}


def test_finetune_says_where_supervision_must_come_from(docs_engine: DocsEngine,
                                                        sample: Path) -> None:
    nothing = run("finetune", "embeddings", env=docs_engine.env)
    assert nothing.returncode == 2
    assert "--judgments FILE, --dataset DIR, or --unsupervised" in nothing.stderr
    both = run("finetune", "reranker", "--dataset", str(sample), "--judgments",
               str(sample / "qrels" / "train.tsv"), env=docs_engine.env)
    assert both.returncode == 2 and "not both" in both.stderr
    bad = run("finetune", "embeddings", "--dataset", str(sample), "--epochs", "0",
              env=docs_engine.env)
    assert bad.returncode == 2 and "epochs must be at least 1" in bad.stderr
    no_time = run("finetune", "reranker", "--dataset", str(sample), "--max-minutes", "0",
                  env=docs_engine.env)
    assert no_time.returncode == 2 and "max-minutes must be positive" in no_time.stderr
    no_layers = run("finetune", "reranker", "--dataset", str(sample), "--layers", "0",
                    env=docs_engine.env)
    assert no_layers.returncode == 2 and "layers must be at least 1" in no_layers.stderr


@pytest.mark.timeout(900)
def test_unsupervised_finetune_trains_on_questions_the_configured_llm_writes(
        docs_engine: DocsEngine, sample: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="the local chat model needs llama-cpp-python")
    output = tmp_path / "embeddings-unsupervised"
    env = {**docs_engine.env, "ES_RAG_LLM_PROVIDER": "local"}
    done = run("finetune", "embeddings", "--dataset", str(sample), "--unsupervised",
               "--generated-questions", "3", "--no-onnx", "--output", str(output), *TINY,
               env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout.strip().splitlines()[-1])
    assert manifest["data"]["source"].endswith("+generated:local")
    # pseudo-queries train gently: what held quality on SciFact
    assert manifest["parameters"]["learning_rate"] == 2e-5
    assert manifest["parameters"]["mined_negatives"] is False  # random negatives
    assert "questions" in done.stderr  # the progress bar names the stage


def test_generated_questions_need_unsupervised_training_and_a_chat_model(
        docs_engine: DocsEngine, sample: Path) -> None:
    supervised = run("finetune", "embeddings", "--dataset", str(sample),
                     "--generated-questions", "3", env=docs_engine.env)
    assert supervised.returncode == 2
    assert "--generated-questions goes with --unsupervised" in supervised.stderr
    extractive = run("finetune", "embeddings", "--dataset", str(sample), "--unsupervised",
                     "--generated-questions", "3",
                     env={**docs_engine.env, "ES_RAG_LLM_PROVIDER": "extractive"})
    assert extractive.returncode == 2
    assert "needs a chat model: set ES_RAG_LLM_PROVIDER to openai or local" in extractive.stderr
