"""Export a local model to ONNX once, and keep it cached with a manifest.

The transformer of the model folder is exported with `torch.onnx`: for `task="embedding"` (a
sentence-transformers model) its last hidden state, pooled and normalised in
`es_rag.embedding.onnx_model`; for `task="sequence-classification"` (a cross-encoder reranker) its
logits, read by `es_rag.retrieve.rerank_onnx`. Either is quantized to int8 with ONNX Runtime's
dynamic quantization. The cache folder holds `model.onnx`, `model-int8.onnx` and
`manifest.json`, which records the SHA-256 of every source file the export read. A cached export
is reused while those files are unchanged (checked by size and modification time first, by
checksum when these differ) and rebuilt when any checksum changes. Nothing is downloaded. An
export holds `export.lock` in the cache folder, so processes sharing a cache export it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from es_rag.errors import EsRagError

MANIFEST = "manifest.json"
LOCK = "export.lock"  # held while exporting: another process waits, then finds the export
RECIPE = "es-rag-onnx-v1"  # bump when the exported graph or the quantization changes
OPSET = 17
VARIANTS = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
TASKS = {"embedding": "last_hidden_state", "sequence-classification": "logits"}  # the output
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_exporting = threading.Lock()


class OnnxExportError(EsRagError, RuntimeError):
    """The model cannot be exported to ONNX or quantized; the message says why."""


def source_files(model_dir: Path) -> list[Path]:
    """The files of the model folder an export depends on: weights, configs, tokenizer."""
    weights = [model_dir / name for name in WEIGHT_FILES if (model_dir / name).is_file()]
    if not weights:
        raise OnnxExportError(f"no model weights ({' or '.join(WEIGHT_FILES)}) in {model_dir}")
    configs = ["config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json",
               "config_sentence_transformers.json"]
    return weights[:1] + [model_dir / name for name in configs if (model_dir / name).is_file()]


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _fresh(manifest: dict[str, Any], model_dir: Path, variant: str, task: str) -> bool:
    """True when `manifest` describes an export for `task` of the files in `model_dir` as they
    are now."""
    recorded = manifest.get("sources", {})
    files = source_files(model_dir)
    if manifest.get("recipe") != RECIPE or manifest.get("task", "embedding") != task or \
            sorted(recorded) != sorted(f.name for f in files):
        return False
    for path in files:
        entry = recorded[path.name]
        if entry.get("stamp") != _stamp(path) and entry.get("sha256") != file_sha256(path):
            return False
    return variant in manifest.get("variants", {})


def _restamp(cache_dir: Path, manifest: dict[str, Any], model_dir: Path) -> None:
    """Record the current size and time of source files whose checksum was found unchanged, so
    later processes skip hashing them (best effort: a read-only cache is left as it is)."""
    sources = manifest["sources"]
    stale = [p for p in source_files(model_dir) if sources[p.name].get("stamp") != _stamp(p)]
    if not stale:
        return
    for path in stale:
        sources[path.name]["stamp"] = _stamp(path)
    with contextlib.suppress(OSError):
        _write_atomic(cache_dir / MANIFEST,
                      lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))


def read_manifest(cache_dir: Path) -> dict[str, Any]:
    """The cache folder's manifest, or {} when there is none (or it is unreadable)."""
    try:
        return dict(json.loads((cache_dir / MANIFEST).read_text()))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _export_lock(cache_dir: Path) -> Iterator[None]:
    """Hold the cache folder (created if need be) against other threads and processes."""
    lock = FileLock(cache_dir / LOCK)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as exc:
        raise OnnxExportError(f"cannot write to the ONNX cache folder {cache_dir}: "
                              f"{exc.strerror}") from None
    try:
        with _exporting:
            yield
    finally:
        lock.release()


def _write_atomic(path: Path, write: Any) -> None:
    """Write `path` through a temporary file in the same folder, then rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _export_fp32(model_dir: Path, target: Path, task: str) -> None:
    try:
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification
    except ImportError as exc:
        raise OnnxExportError(f"exporting to ONNX needs torch and transformers ({exc})") from None
    output = TASKS[task]

    class Output(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return getattr(self.model(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids), output)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    kind = AutoModel if task == "embedding" else AutoModelForSequenceClassification
    model = kind.from_pretrained(str(model_dir), local_files_only=True,
                                 attn_implementation="eager").eval()
    example = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    axes[output] = {0: "batch", 1: "tokens"} if task == "embedding" else {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Output(model), (example, torch.ones_like(example), torch.zeros_like(example)),
            str(target), input_names=names, output_names=[output], dynamic_axes=axes,
            opset_version=OPSET, dynamo=False)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights, per channel (keeps cosine ≥ 0.99)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a hint about pre-processing on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"])
    finally:
        root.setLevel(level)


def ensure_export(model_dir: Path, cache_dir: Path, variant: str = "fp32",
                  task: str = "embedding") -> Path:
    """The ONNX file of `variant` ("fp32" or "int8") for `model_dir` and `task` (a key of
    `TASKS`), exported on first use.

    Raises OnnxExportError when the export or the quantization fails (the cache is left as it
    was: files are renamed into place only once complete).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r} (known: {', '.join(VARIANTS)})")
    if task not in TASKS:
        raise ValueError(f"unknown ONNX export task {task!r} (known: {', '.join(TASKS)})")
    target = cache_dir / VARIANTS[variant]
    manifest = read_manifest(cache_dir)
    if _fresh(manifest, model_dir, variant, task) and target.is_file():
        _restamp(cache_dir, manifest, model_dir)
        return target
    with _export_lock(cache_dir):
        manifest = read_manifest(cache_dir)
        if _fresh(manifest, model_dir, variant, task) and target.is_file():
            return target
        sources = {path.name: {"sha256": file_sha256(path), "stamp": _stamp(path)}
                   for path in source_files(model_dir)}
        same_sources = (manifest.get("recipe") == RECIPE and
                        manifest.get("task", "embedding") == task and
                        {k: v.get("sha256") for k, v in manifest.get("sources", {}).items()}
                        == {k: v["sha256"] for k, v in sources.items()})
        variants = dict(manifest.get("variants", {})) if same_sources else {}
        fp32 = cache_dir / VARIANTS["fp32"]
        try:
            if "fp32" not in variants or not fp32.is_file():
                _write_atomic(fp32, lambda tmp: _export_fp32(model_dir, tmp, task))
                variants = {"fp32": file_sha256(fp32)}
            if variant == "int8":
                _write_atomic(target, lambda tmp: _quantize(fp32, tmp))
                variants["int8"] = file_sha256(target)
        except OnnxExportError:
            raise
        except Exception as exc:  # torch.onnx and onnxruntime raise many kinds
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise OnnxExportError(f"exporting {model_dir} to ONNX ({variant}) failed: "
                                  f"{exc.__class__.__name__}: {first}") from None
        new = {"recipe": RECIPE, "task": task, "source": str(model_dir), "opset": OPSET,
               "sources": sources, "variants": variants}
        _write_atomic(cache_dir / MANIFEST,
                      lambda tmp: tmp.write_text(json.dumps(new, indent=2) + "\n"))
    return target
