"""The evaluation page's models: the embedding model and reranker in use, and each fine-tune.

Read-only: `retrieval.json` in the assets says which fine-tuned models are active (`models`),
the settings say the configured names and the embedding backend, and every `<kind>-vN` folder
under `<data>/models/` (or any folder there with a manifest) contributes its manifest's
held-out metrics before and after training. A folder whose manifest is missing or unreadable
is listed with that problem; an unreadable `retrieval.json` is reported, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from es_rag.config import Settings
from es_rag.evaluate.metrics import METRICS
from es_rag.finetune.manifest import (
    MANIFEST,
    VERSION_RE,
    ModelManifest,
    ModelManifestError,
    read_manifest,
)
from es_rag.retrieve.defaults import RetrievalDefaults, RetrievalFileError, read_file

ROLE_OF_KIND = {"embeddings": "embedding", "reranker": "reranker"}


@dataclass(frozen=True)
class ModelInUse:
    """One role's model as search uses it: its name or path, where that choice comes from."""

    role: str
    name: str
    source: str
    backend: str
    version: int | None = None
    checksum: str = ""


@dataclass(frozen=True)
class MetricRow:
    """One held-out metric of a fine-tune: before, after, and after int8 export when measured."""

    metric: str
    before: float | None
    after: float | None
    int8: float | None = None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return round(self.after - self.before, 4)


@dataclass(frozen=True)
class FineTune:
    """A folder under `<data>/models/`: its manifest and metrics, or why it cannot be read."""

    folder: str
    manifest: ModelManifest | None = None
    problem: str = ""
    active: bool = False
    rows: tuple[MetricRow, ...] = ()
    before_is: str = ""


@dataclass(frozen=True)
class ModelsView:
    """What the evaluation page shows about models."""

    in_use: list[ModelInUse]
    fine_tunes: list[FineTune]
    models_root: Path
    problems: list[str] = field(default_factory=list)


def models_view(settings: Settings) -> ModelsView:
    """The models in use and every fine-tune found under `<data>/models/`."""
    problems: list[str] = []
    try:
        defaults = read_file(settings.assets)
    except RetrievalFileError as exc:
        problems.append(f"{exc} (the configured models are shown)")
        defaults = RetrievalDefaults()
    root = Path(settings.data) / "models"
    return ModelsView(in_use=[_embedding(settings, defaults), _reranker(settings, defaults)],
                      fine_tunes=fine_tunes(root, defaults.models), models_root=root,
                      problems=problems)


def _embedding(settings: Settings, defaults: RetrievalDefaults) -> ModelInUse:
    active = defaults.models.get("embedding")
    if settings.embedding == "cluster":
        backend = f"cluster (trained model {settings.cluster_model_id})"
    elif settings.embedding == "semantic_text":
        backend = (f"cluster (semantic_text, endpoint {settings.semantic_inference_id}); "
                   f"local scoring on {settings.embedding_backend}")
    else:
        backend = settings.embedding_backend
    if active:
        return ModelInUse("embedding", str(active["path"]), "fine-tuned (retrieval.json)",
                          backend, active.get("version"), str(active.get("checksum") or ""))
    return ModelInUse("embedding", settings.embedding_model, "configured (embedding_model)",
                      backend)


def _reranker(settings: Settings, defaults: RetrievalDefaults) -> ModelInUse:
    active = defaults.models.get("reranker")
    rerank = defaults.params.rerank
    if active:
        return ModelInUse("reranker", str(active["path"]), "fine-tuned (retrieval.json)",
                          "torch (cross-encoder)", active.get("version"),
                          str(active.get("checksum") or ""))
    if rerank.inference_id:
        return ModelInUse("reranker", rerank.inference_id, "rerank.inference_id",
                          "cluster inference endpoint where allowed, else es-rag")
    if rerank.model:
        return ModelInUse("reranker", rerank.model, "configured (rerank.model)",
                          "torch (cross-encoder)")
    return ModelInUse("reranker", "the embedding model's similarity", "built-in (no rerank.model)",
                      settings.embedding_backend)


def fine_tunes(root: Path, active: dict[str, dict[str, Any]]) -> list[FineTune]:
    """Each `<kind>-vN` folder (and any other folder with a manifest) under `root`, by kind and
    newest version first; `active` is `retrieval.json`'s `models` section."""
    try:
        folders = [p for p in root.iterdir() if p.is_dir()
                   and (VERSION_RE.match(p.name) or _has_manifest(p))]
    except FileNotFoundError:
        return []
    except OSError as exc:
        return [FineTune(root.name, problem=f"{root}: cannot be listed ({exc})")]
    found = [_fine_tune(folder, active) for folder in folders]
    return sorted(found, key=_order)


def _order(found: FineTune) -> tuple[bool, str, int, str]:
    manifest = found.manifest
    version = manifest.version if manifest and isinstance(manifest.version, int) else 0
    return manifest is None, str(manifest.kind) if manifest else "", -version, found.folder


def _has_manifest(folder: Path) -> bool:
    try:
        return (folder / MANIFEST).exists()
    except OSError:  # listed, and reading it says what is wrong
        return True


def _fine_tune(folder: Path, active: dict[str, dict[str, Any]]) -> FineTune:
    try:
        manifest = read_manifest(folder)
    except ModelManifestError as exc:
        return FineTune(folder.name, problem=str(exc))
    held_out = manifest.metrics.get("held_out") if isinstance(manifest.metrics, dict) else None
    if not isinstance(held_out, dict):
        return FineTune(folder.name, manifest,
                        problem=f"{folder / MANIFEST}: no held-out metrics recorded")
    entry = active.get(ROLE_OF_KIND.get(manifest.kind, ""))
    is_active = bool(entry) and (_same_path(entry.get("path"), folder)
                                 or entry.get("checksum") == manifest.checksum)
    return FineTune(folder.name, manifest, active=is_active, rows=_rows(held_out),
                    before_is=str(held_out.get("before_is") or ""))


def _rows(held_out: dict[str, Any]) -> tuple[MetricRow, ...]:
    stages = {name: held_out.get(name) if isinstance(held_out.get(name), dict) else {}
              for name in ("before", "after", "after_onnx_int8")}
    found = [*stages["before"], *stages["after"]]
    metrics = [m for m in METRICS if m in found] + sorted(set(found) - set(METRICS))
    return tuple(MetricRow(m, _number(stages["before"].get(m)), _number(stages["after"].get(m)),
                           _number(stages["after_onnx_int8"].get(m))) for m in metrics)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _same_path(recorded: Any, folder: Path) -> bool:
    try:
        return recorded is not None and Path(str(recorded)).resolve() == folder.resolve()
    except OSError:
        return False
