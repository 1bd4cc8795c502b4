"""The ONNX backend: the same vectors as torch, a query path without torch, an export made once
from the packaged weights and rebuilt when they change, and clear errors when it cannot run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from elasticsearch import Elasticsearch

from es_rag.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from es_rag.embedding import onnx_export
from es_rag.embedding.cluster import ClusterSearchEmbedder
from es_rag.embedding.factory import local_embedder, search_embedder
from es_rag.embedding.local import Embedder, model_location
from es_rag.embedding.onnx_export import OnnxExportError, ensure_export, read_manifest
from es_rag.embedding.onnx_model import OnnxBackendError, OnnxEmbedder
from es_rag.evaluate.corpus import index_body

TEXTS = [
    "Reciprocal rank fusion merges the BM25 and kNN result lists using a rank constant.",
    "The embedded engine stores every acknowledged write durably on disk.",
    "Sourdough bread rises slowly with a starter of flour and water.",
    "short",
    "Vitamin D deficiency and cardiovascular risk in adults. " * 40,  # truncated at 256 tokens
]
TORCH_MODULES = ("torch", "sentence_transformers", "transformers")


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export cache for the session: the bundled model exported once (fp32 and int8)."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    OnnxEmbedder(cache_root=cache, quantized=True)
    return cache


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    return Embedder()


def test_onnx_vectors_match_torch_vectors(onnx_cache: Path, torch_embedder: Embedder) -> None:
    reference = np.array(torch_embedder.embed_documents(TEXTS))
    fp32 = OnnxEmbedder(cache_root=onnx_cache)
    int8 = OnnxEmbedder(cache_root=onnx_cache, quantized=True)
    assert fp32.dims == int8.dims == 384 and fp32.max_seq_length == 256
    assert fp32.model_name == torch_embedder.model_name  # switching backends re-embeds nothing
    assert np.abs(np.array(fp32.embed_documents(TEXTS)) - reference).max() < 1e-5
    assert np.abs(np.array(fp32.embed_query(TEXTS[0])) -
                  np.array(torch_embedder.embed_query(TEXTS[0]))).max() < 1e-5
    cosine = (np.array(int8.embed_documents(TEXTS)) * reference).sum(axis=1)
    assert cosine.min() > 0.97, cosine
    assert int8.embed_documents([]) == []
    # batching and ordering by length do not change a vector
    one_by_one = [OnnxEmbedder(cache_root=onnx_cache, batch_size=1).embed_documents([t])[0]
                  for t in TEXTS[:3]]
    assert np.abs(np.array(one_by_one) - reference[:3]).max() < 1e-5


def test_onnx_tokenizer_counts_tokens_as_the_model_tokenizer(
        onnx_cache: Path, torch_embedder: Embedder) -> None:
    text = TEXTS[4] + " Café naïve résumé."
    ours = OnnxEmbedder(cache_root=onnx_cache).tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True)
    theirs = torch_embedder.tokenizer(text, add_special_tokens=False,
                                      return_offsets_mapping=True, verbose=False)
    assert ours["offset_mapping"] == list(map(tuple, theirs["offset_mapping"]))
    assert len(ours["offset_mapping"]) > 256  # counting is not truncated
    assert OnnxEmbedder(cache_root=onnx_cache).tokenizer.encode(
        "hello world", add_special_tokens=False) == [7592, 2088]


def test_the_backend_setting_picks_the_embedder_everywhere(onnx_cache: Path) -> None:
    assert load_settings(env={}, config_file=None).embedding_backend in (
        "torch", "onnx", "onnx-int8")
    settings = load_settings(env={"ES_RAG_EMBEDDING_BACKEND": "onnx-int8",
                                  "ES_RAG_EMBEDDING_CACHE": str(onnx_cache)})
    assert isinstance(local_embedder(settings), OnnxEmbedder)
    assert isinstance(search_embedder(settings), OnnxEmbedder)
    clustered = search_embedder(Settings(embedding="cluster", embedding_backend="onnx-int8",
                                         embedding_cache=onnx_cache))
    assert isinstance(clustered, ClusterSearchEmbedder)
    assert isinstance(clustered.local, OnnxEmbedder) and clustered.dims == 384
    assert local_embedder(settings).cache_dir == onnx_cache / "all-MiniLM-L6-v2"
    assert isinstance(local_embedder(Settings(embedding_backend="torch")), Embedder)
    with pytest.raises(ConfigError, match="ES_RAG_EMBEDDING_BACKEND: 'tensorflow' is not one of"):
        load_settings(env={"ES_RAG_EMBEDDING_BACKEND": "tensorflow"})


@pytest.fixture
def torch_indexed(es: Elasticsearch, torch_embedder: Embedder) -> Iterator[str]:
    """A chunk index whose vectors torch computed."""
    index = "chunks-torch-vectors"
    es.indices.create(index=index, **index_body(PROJECT_ROOT / "mappings" / "chunks.json", {}))
    for n, (text, vector) in enumerate(zip(TEXTS[:3], torch_embedder.embed_documents(TEXTS[:3]),
                                           strict=True)):
        es.index(index=index, id=f"doc{n}:0", refresh=True, document={
            "chunk_id": f"doc{n}:0", "doc_id": f"doc{n}", "ordinal": 0, "source": f"doc{n}.txt",
            "title": f"doc{n}", "text": text, "embedding": vector})
    yield index


def test_knn_search_in_a_fresh_process_with_onnx_imports_no_torch_and_finds_torch_vectors(
        engine: object, torch_indexed: str, onnx_cache: Path, tmp_path: Path) -> None:
    """Documents embedded by torch, the query by ONNX int8 in a fresh `es-rag search` process."""
    script = ("import json, sys\nfrom es_rag.cli import main\n"
              "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
              f"print(json.dumps({{'code': code, 'loaded': sorted(m for m in sys.modules "
              f"if m.split('.')[0] in {TORCH_MODULES!r}), 'ort': 'onnxruntime' in sys.modules}}))")
    env = {"ES_RAG_URL": engine.url, "ES_RAG_INDEX": torch_indexed,  # type: ignore[attr-defined]
           "ES_RAG_EMBEDDING_BACKEND": "onnx-int8", "ES_RAG_EMBEDDING_CACHE": str(onnx_cache),
           "ES_RAG_DATA": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script, "search", "how does rank fusion merge "
                           "result lists?", "--mode", "knn", "--json"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result_line, modules_line = done.stdout.strip().splitlines()[-2:]
    modules = json.loads(modules_line)
    assert modules == {"code": 0, "loaded": [], "ort": True}
    hits = json.loads(result_line)["hits"]
    assert [hit["doc_id"] for hit in hits][:1] == ["doc0"]


def test_the_cli_starts_without_torch() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, es_rag.cli, es_rag.ingest; "
                           f"print(sorted(m for m in sys.modules if m in {TORCH_MODULES!r}))"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def tiny_model(folder: Path, seed: int = 0) -> Path:
    """A one-layer BERT sentence-transformers model with the bundled model's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    bundled = Path(model_location("all-MiniLM-L6-v2"))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "modules.json",
                 "special_tokens_map.json"):
        shutil.copy2(bundled / name, folder / name)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 16, "pooling_mode_mean_tokens": True}))
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 64}')
    return folder


def test_the_export_is_reused_until_the_weights_checksum_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, cache = tiny_model(tmp_path / "tiny"), tmp_path / "cache"
    first = ensure_export(model, cache, "int8")
    manifest = read_manifest(cache)
    assert manifest["sources"]["model.safetensors"]["sha256"] == \
        onnx_export.file_sha256(model / "model.safetensors")
    assert set(manifest["variants"]) == {"fp32", "int8"}
    exported = (cache / "model.onnx").stat().st_mtime_ns
    beside = OnnxEmbedder(str(model))  # no cache folder configured: beside the model
    assert beside.cache_dir == model / "onnx" and (model / "onnx" / "manifest.json").is_file()
    assert len(beside.embed_query("hello")) == 16

    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_fp32", no_export)
    (model / "model.safetensors").touch()  # same bytes, newer time: still the same weights
    assert ensure_export(model, cache, "int8") == first
    assert (cache / "model.onnx").stat().st_mtime_ns == exported
    assert read_manifest(cache)["sources"]["model.safetensors"]["stamp"][1] == \
        (model / "model.safetensors").stat().st_mtime_ns  # no hashing next time
    monkeypatch.undo()

    tiny_model(tmp_path / "retrained", seed=1)
    shutil.copy2(tmp_path / "retrained" / "model.safetensors", model / "model.safetensors")
    ensure_export(model, cache, "fp32")
    rebuilt = read_manifest(cache)
    assert rebuilt["sources"]["model.safetensors"]["sha256"] != \
        manifest["sources"]["model.safetensors"]["sha256"]
    assert rebuilt["variants"]["fp32"] != manifest["variants"]["fp32"]
    assert "int8" not in rebuilt["variants"]  # the old int8 file no longer counts


# Exports `model` into `cache` once "go" exists (all processes ask at the same moment); logs
# each export it runs to "exports.log" and the path it got to stdout.
CONCURRENT_EXPORT = """
import sys, time
from pathlib import Path
from es_rag.embedding import onnx_export
model, cache, shared = (Path(a) for a in sys.argv[1:4])
original = onnx_export._export_fp32
def logged(*args):
    with (shared / "exports.log").open("a") as log:
        log.write("export\\n")
    time.sleep(1)  # a slow export: the other process asks meanwhile
    original(*args)
onnx_export._export_fp32 = logged
while not (shared / "go").exists():
    time.sleep(0.01)
print(onnx_export.ensure_export(model, cache, "int8"))
"""


def test_two_processes_sharing_a_cache_export_the_model_once(tmp_path: Path) -> None:
    """Two es-rag processes (two test workers, a server and a CLI) asking for the same export
    at once: one exports, the other waits for it and uses it."""
    model, cache = tiny_model(tmp_path / "tiny"), tmp_path / "model" / "onnx"
    processes = [subprocess.Popen([sys.executable, "-c", CONCURRENT_EXPORT, str(model),
                                   str(cache), str(tmp_path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    (tmp_path / "go").touch()
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == [str(cache / "model-int8.onnx")] * 2
    assert (tmp_path / "exports.log").read_text() == "export\n"
    manifest = read_manifest(cache)
    assert manifest["variants"] == {
        "fp32": onnx_export.file_sha256(cache / "model.onnx"),
        "int8": onnx_export.file_sha256(cache / "model-int8.onnx")}


def test_a_failed_export_is_a_clear_error_and_leaves_no_manifest(tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny")
    (model / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(OnnxBackendError, match=r"exporting .*tiny to ONNX \(fp32\) failed: .*; "
                                               r"set embedding_backend = torch"):
        OnnxEmbedder(str(model), cache_root=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("manifest.json"))
    assert not list((tmp_path / "cache").rglob("*.onnx"))
    with pytest.raises(OnnxExportError, match="no model weights"):
        ensure_export(tmp_path / "cache", tmp_path / "elsewhere")


def test_without_onnxruntime_the_cli_says_what_to_install(engine: object,
                                                           tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nsys.modules['onnxruntime'] = None  # as if it were not installed\n")
    env = {"ES_RAG_URL": engine.url, "ES_RAG_EMBEDDING_BACKEND": "onnx",  # type: ignore[attr-defined]
           "ES_RAG_DATA": str(tmp_path / "data"), "PYTHONPATH": str(blocker),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "es_rag", "search", "RRF", "--mode", "knn"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "embedding_backend = onnx needs the onnxruntime and tokenizers packages" in done.stderr
    assert "set embedding_backend = torch" in done.stderr
