"""Fine-tuned model folders as training leaves them, written by the manifest's own writer (no
training): an active embedding model with its int8 metrics, a reranker, and two broken folders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from es_rag.finetune.manifest import MANIFEST, ModelManifest, model_checksum
from es_rag.retrieve.defaults import read_file, write_file

EMBEDDINGS_METRICS = {"before": {"ndcg@10": 0.6123, "recall@10": 0.7, "mrr@10": 0.58},
                      "after": {"ndcg@10": 0.6842, "recall@10": 0.78, "mrr@10": 0.65},
                      "after_onnx_int8": {"ndcg@10": 0.6811, "recall@10": 0.78, "mrr@10": 0.648}}
RERANKER_METRICS = {"before": {"ndcg@10": 0.6123, "recall@10": 0.7, "mrr@10": 0.58},
                    "after": {"ndcg@10": 0.5904, "recall@10": 0.69, "mrr@10": 0.55},
                    "before_is": "base model embedding similarity"}


def _model(root: Path, kind: str, version: int, metrics: dict, fingerprint: str) -> Path:
    folder = root / f"{kind}-v{version}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(f"{kind} weights v{version}".encode())
    ModelManifest(kind=kind, version=version, base_model="all-MiniLM-L6-v2",
                  base_checksum="b" * 64,
                  data={"source": "judgments:train.qrels", "fingerprint": fingerprint,
                        "queries": 40, "passages": 300, "pairs": 52},
                  parameters={"epochs": 1, "batch_size": 16}, metrics={"held_out": metrics},
                  checksum=model_checksum(folder), training_seconds=12.5,
                  created=f"2026-12-0{version + 1}T10:00:00+00:00").write(folder)
    return folder


def write_model_folders(data: Path, assets: Path) -> dict[str, Path]:
    """`<data>/models/` with embeddings-v1 (active in `assets`' retrieval.json), reranker-v1
    (not active), embeddings-v2 (no manifest: training stopped) and reranker-v2 (a manifest
    that is not JSON)."""
    root = data / "models"
    folders = {"embeddings-v1": _model(root, "embeddings", 1, EMBEDDINGS_METRICS, "f1" * 32),
               "reranker-v1": _model(root, "reranker", 1, RERANKER_METRICS, "e2" * 32)}
    (root / "embeddings-v2").mkdir()
    (root / "reranker-v2").mkdir()
    (root / "reranker-v2" / MANIFEST).write_text("{not json", encoding="utf-8")
    active = folders["embeddings-v1"]
    entry = {"path": str(active.resolve()), "version": 1, "checksum": model_checksum(active)}
    defaults = read_file(assets)
    write_file(assets, replace(defaults, models={**defaults.models, "embedding": entry}))
    return folders
