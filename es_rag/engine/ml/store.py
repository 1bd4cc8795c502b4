"""Trained models on disk: configuration, vocabulary, definition parts and deployments.

Layout under `<data>/ml/`::

    models/<model_id>/config.json          the stored TrainedModelConfig
    models/<model_id>/vocabulary.json      {"vocabulary": [...], "merges"?, "scores"?}
    models/<model_id>/parts.json           total_parts, total_definition_length, part sizes
    models/<model_id>/part-<n>.bin         the decoded bytes of definition part n
    deployments.json                       started deployments (restarted lazily after a restart)

Every file is replaced atomically and fsynced, so an acknowledged upload survives a crash.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from ..errors import BadRequest, EngineError, ResourceAlreadyExists, ResourceNotFound
from ..storage.state import write_atomically


def model_not_found(model_id: str) -> ResourceNotFound:
    """Elasticsearch's `Could not find trained model [id]` (404)."""
    return ResourceNotFound(f"Could not find trained model [{model_id}]")


class ModelStore:
    """Durable storage of trained models and deployments, with an in-memory index of configs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models_dir = root / "models"
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._configs: dict[str, dict[str, Any]] = {}
        for folder in sorted(self.models_dir.iterdir()):
            config = folder / "config.json"
            if config.exists():
                self._configs[folder.name] = json.loads(config.read_text())
        path = root / "deployments.json"
        self._deployments: dict[str, dict[str, Any]] = \
            json.loads(path.read_text()) if path.exists() else {}

    # configurations -------------------------------------------------------------------------

    def ids(self) -> list[str]:
        """Every stored model id, sorted."""
        with self._lock:
            return sorted(self._configs)

    def config(self, model_id: str) -> dict[str, Any]:
        """A stored config (a copy); 404 when the model does not exist."""
        with self._lock:
            config = self._configs.get(model_id)
            if config is None:
                raise model_not_found(model_id)
            return json.loads(json.dumps(config))

    def exists(self, model_id: str) -> bool:
        with self._lock:
            return model_id in self._configs

    def create(self, config: dict[str, Any]) -> None:
        """Store a new model's config; 400 `resource_already_exists_exception` if it exists."""
        model_id = config["model_id"]
        with self._lock:
            if model_id in self._configs:
                raise ResourceAlreadyExists(
                    f"Trained machine learning model [{model_id}] already exists")
            folder = self.models_dir / model_id
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            self._save_config(config)

    def update(self, model_id: str, **fields: Any) -> None:
        """Change top-level fields of a stored config."""
        with self._lock:
            config = {**self.config(model_id), **fields}
            self._save_config(config)

    def delete(self, model_id: str) -> None:
        """Remove a model and everything uploaded for it."""
        with self._lock:
            if model_id not in self._configs:
                raise model_not_found(model_id)
            (self.models_dir / model_id / "config.json").unlink()
            del self._configs[model_id]
            shutil.rmtree(self.models_dir / model_id, ignore_errors=True)

    def _save_config(self, config: dict[str, Any]) -> None:
        write_atomically(self.models_dir / config["model_id"] / "config.json",
                         json.dumps(config))
        self._configs[config["model_id"]] = config

    # vocabulary -----------------------------------------------------------------------------

    def put_vocabulary(self, model_id: str, vocabulary: dict[str, Any]) -> None:
        """Store (or replace) the vocabulary of an existing model."""
        with self._lock:
            self.config(model_id)
            write_atomically(self.models_dir / model_id / "vocabulary.json",
                             json.dumps(vocabulary))

    def vocabulary(self, model_id: str) -> dict[str, Any] | None:
        """The uploaded vocabulary, or None."""
        path = self.models_dir / model_id / "vocabulary.json"
        return json.loads(path.read_text()) if path.exists() else None

    # definition parts -----------------------------------------------------------------------

    def put_part(self, model_id: str, part: int, total_parts: int, total_length: int,
                 data: bytes) -> None:
        """Store one decoded definition part; a part is written once, as in Elasticsearch."""
        with self._lock:
            self.config(model_id)
            folder = self.models_dir / model_id
            manifest = self._manifest(model_id)
            if manifest:
                for key, given in (("total_parts", total_parts),
                                   ("total_definition_length", total_length)):
                    if manifest[key] != given:
                        raise BadRequest(
                            f"[{key}] [{given}] does not match the [{key}] [{manifest[key]}] "
                            f"of the parts already uploaded for model [{model_id}]")
            parts = dict(manifest.get("parts", {}))
            if str(part) in parts:
                raise ResourceAlreadyExists(f"Trained machine learning model chunked doc "
                                            f"[{model_id}][{part}] already exists")
            write_atomically(folder / f"part-{part}.bin", data)
            parts[str(part)] = len(data)
            write_atomically(folder / "parts.json", json.dumps({
                "total_parts": total_parts, "total_definition_length": total_length,
                "parts": parts}))

    def _manifest(self, model_id: str) -> dict[str, Any]:
        path = self.models_dir / model_id / "parts.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def definition_status(self, model_id: str) -> dict[str, Any]:
        """`uploaded` parts, `total_parts`, `total_definition_length` and `fully_defined`."""
        manifest = self._manifest(model_id)
        parts = manifest.get("parts", {})
        total = manifest.get("total_parts", 0)
        complete = bool(manifest) and len(parts) == total and \
            sum(parts.values()) == manifest["total_definition_length"]
        return {"uploaded": len(parts), "total_parts": total,
                "total_definition_length": manifest.get("total_definition_length", 0),
                "fully_defined": complete}

    def definition(self, model_id: str) -> bytes:
        """The whole definition, parts in order; Elasticsearch's errors when parts are
        missing (404 no definition, 400 truncated)."""
        status = self.definition_status(model_id)
        if not status["uploaded"]:
            raise ResourceNotFound(f"Could not find trained model definition [{model_id}]")
        if not status["fully_defined"]:
            raise EngineError(f"Model definition truncated. Unable to deserialize trained model "
                              f"definition [{model_id}]", status=400,
                              error_type="status_exception")
        folder = self.models_dir / model_id
        return b"".join((folder / f"part-{n}.bin").read_bytes()
                        for n in range(status["total_parts"]))

    # deployments ----------------------------------------------------------------------------

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Started deployments by deployment id (copies)."""
        with self._lock:
            return json.loads(json.dumps(self._deployments))

    def save_deployment(self, deployment_id: str, record: dict[str, Any] | None) -> None:
        """Record a started deployment, or forget a stopped one (`record` None)."""
        with self._lock:
            if record is None:
                self._deployments.pop(deployment_id, None)
            else:
                self._deployments[deployment_id] = record
            write_atomically(self.root / "deployments.json", json.dumps(self._deployments))
