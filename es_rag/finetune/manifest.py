"""The manifest of a fine-tuned model directory, and versioned model folders.

A fine-tune writes `<data>/models/<kind>-vN/` (N one past the newest) holding the model and
`es-rag-model.json`: kind, version, base model and its checksum, the training data's source and
fingerprint, the parameters, the metrics before/after on the held-out training queries, the
training time and the checksum of the model's own files (its ONNX exports excluded).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError

MANIFEST = "es-rag-model.json"
KINDS = ("embeddings", "reranker")
SKIPPED = {MANIFEST, "onnx", "README.md"}  # not part of the checksum
VERSION_RE = re.compile(r"^(?P<kind>[a-z]+)-v(?P<version>\d+)$")


class ModelManifestError(EsRagError, ValueError):
    """A model folder has no readable manifest; the message names the folder."""


@dataclass
class ModelManifest:
    """What a fine-tuned model is and how it was made."""

    kind: str
    version: int
    base_model: str
    base_checksum: str
    data: dict[str, Any]
    parameters: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""
    training_seconds: float = 0.0
    created: str = ""

    def write(self, folder: Path) -> Path:
        path = folder / MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")
        return path


def record_trained(output: Path, *, kind: str, version: int, base_model: str,
                   base_location: str, data: dict[str, Any], parameters: dict[str, Any],
                   metrics: dict[str, Any], started: float) -> ModelManifest:
    """Write the manifest of a model just saved to `output` (training began at `started`,
    a `time.perf_counter()` reading)."""
    manifest = ModelManifest(
        kind=kind, version=version, base_model=base_model,
        base_checksum=model_checksum(Path(base_location)), data=data, parameters=parameters,
        metrics=metrics, checksum=model_checksum(output),
        training_seconds=round(time.perf_counter() - started, 1),
        created=datetime.now(UTC).isoformat(timespec="seconds"))
    manifest.write(output)
    return manifest


def recorded_manifest(folder: str | Path) -> dict[str, Any] | None:
    """What a model folder's manifest records, as written; None when the folder has none (a
    model `es-rag finetune` did not make) or it cannot be read. Lenient where `read_manifest`
    is strict: for readers that take any model folder."""
    try:
        found = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def read_manifest(folder: Path) -> ModelManifest:
    """The manifest of a fine-tuned model folder."""
    path = Path(folder) / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ModelManifest(**raw)
    except FileNotFoundError:
        raise ModelManifestError(f"{folder}: no {MANIFEST} (not a model es-rag fine-tuned)"
                                 ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ModelManifestError(f"{path}: unreadable manifest ({exc})") from None


def model_checksum(folder: Path) -> str:
    """SHA-256 over the model's files (names and bytes, sorted), manifest and ONNX excluded."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if relative.parts[0] in SKIPPED:
            continue
        digest.update(str(relative).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def next_version(models_root: Path, kind: str) -> tuple[int, Path]:
    """The next version of `kind` under `models_root` and its folder (`<kind>-vN`)."""
    versions = [int(m["version"]) for p in models_root.glob(f"{kind}-v*")
                if (m := VERSION_RE.match(p.name)) and m["kind"] == kind]
    version = max(versions, default=0) + 1
    return version, models_root / f"{kind}-v{version}"
