"""Inference endpoints of one engine (`_inference`): durable configs, the services behind them,
the license they need, and the inference calls semantic_text, queries and rerankers make."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..chunking import parse_chunking
from ..errors import (
    BadRequest,
    EngineError,
    ResourceAlreadyExists,
    ResourceNotFound,
    SecurityError,
)
from ..storage.state import write_atomically
from .local_service import LocalService
from .service_base import (
    TASK_TYPES,
    Endpoint,
    InferenceBackend,
    unsupported_task,
    validation_error,
)
from .test_services import TEST_SERVICES

if TYPE_CHECKING:
    from ..ml import MlService
    from ..node import Node

INFERENCE_FEATURE = "inference"
_LICENSED = ("enterprise", "trial")
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-.]*$")
_BODY_KEYS = {"service", "service_settings", "task_settings", "chunking_settings", "task_type"}
_UPDATE_KEYS = {"service_settings", "task_settings", "chunking_settings", "task_type"}


def not_found(inference_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Inference endpoint not found [{inference_id}]")


class InferenceService:
    """The `_inference` endpoints and the calls made through them."""

    def __init__(self, data_dir: Path, node: Node, ml: MlService | None = None) -> None:
        self.node = node
        self.path = data_dir / "inference" / "endpoints.json"
        self.services: dict[str, InferenceBackend] = {
            s.name: s for s in (*TEST_SERVICES, LocalService(ml))}
        self._lock = threading.RLock()
        self.endpoints: dict[str, Endpoint] = {}
        if self.path.exists():
            for state in json.loads(self.path.read_text()):
                self.endpoints[state["inference_id"]] = Endpoint.from_state(state)

    # license ----------------------------------------------------------------------------------

    def require_license(self) -> None:
        """403 as Elasticsearch's `InferenceLicenceCheck.complianceException`."""
        if self.node.license.get("type") not in _LICENSED:
            raise SecurityError(f"current license is non-compliant for [{INFERENCE_FEATURE}]",
                                **{"license.expired.feature": INFERENCE_FEATURE})

    # endpoints --------------------------------------------------------------------------------

    def _save(self) -> None:
        states = [e.to_state() for e in self.endpoints.values()]
        write_atomically(self.path, json.dumps(states, indent=1))

    def endpoint(self, inference_id: str) -> Endpoint:
        endpoint = self.endpoints.get(inference_id)
        if endpoint is None:
            raise not_found(inference_id)
        return endpoint

    def backend(self, endpoint: Endpoint) -> InferenceBackend:
        return self.services[endpoint.service]

    def show(self, endpoint: Endpoint) -> dict[str, Any]:
        """An endpoint as PUT and GET answer it."""
        out: dict[str, Any] = {"inference_id": endpoint.inference_id,
                               "task_type": endpoint.task_type, "service": endpoint.service,
                               "service_settings": self.backend(endpoint).shown_settings(endpoint)}
        if endpoint.task_settings or endpoint.task_type != "text_embedding":
            out["task_settings"] = endpoint.task_settings
        if endpoint.chunking_settings is not None:
            out["chunking_settings"] = endpoint.chunking_settings
        return out

    def put(self, task_type: str | None, inference_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("request body is required")
        if not _ID.match(inference_id):
            raise BadRequest(f"Invalid inference_id [{inference_id}]; must contain only "
                             "lowercase alphanumeric (a-z and 0-9), hyphens or underscores, "
                             "and must start with an alphanumeric character")
        body_task = body.get("task_type")
        if task_type is None and body_task is None:
            raise EngineError("model is missing required setting [task_type]", status=400,
                              error_type="status_exception")
        task_type = task_type or body_task
        if body_task is not None and body_task != task_type:
            raise EngineError(f"Cannot resolve conflicting task_type parameter in the request "
                              f"URL [{task_type}] and the request body [{body_task}]",
                              status=400, error_type="status_exception")
        if task_type not in TASK_TYPES:
            raise BadRequest(f"Unknown task_type [{task_type}]")
        unknown = sorted(set(body) - _BODY_KEYS)
        if unknown:
            raise EngineError(f"Model configuration contains settings {unknown} unknown to "
                              f"the [{body.get('service')}] service", status=400,
                              error_type="status_exception")
        service_name = body.get("service")
        if service_name is None:
            raise EngineError("Model configuration is missing [service]", status=400,
                              error_type="status_exception")
        backend = self.services.get(service_name)
        if backend is None:
            raise EngineError(f"Unknown service [{service_name}] for model [{inference_id}]. ",
                              status=400, error_type="status_exception")
        if task_type not in backend.task_types:
            raise unsupported_task(service_name, task_type)
        self.require_license()
        chunking = parse_chunking(body.get("chunking_settings"))
        with self._lock:
            if inference_id in self.endpoints:
                raise ResourceAlreadyExists(f"Inference endpoint [{inference_id}] already "
                                            "exists")
            endpoint = backend.parse(inference_id, task_type, body)
            if chunking is not None:
                if task_type not in ("text_embedding", "sparse_embedding"):
                    raise EngineError(f"Chunking settings are not supported for task type "
                                      f"[{task_type}]", status=400,
                                      error_type="status_exception")
                endpoint.chunking_settings = chunking
            self.endpoints[inference_id] = endpoint
            self._save()
        return self.show(endpoint)

    def get(self, task_type: str | None, inference_id: str | None) -> dict[str, Any]:
        if inference_id in (None, "_all", "*"):
            chosen = [e for e in self.endpoints.values()
                      if task_type in (None, e.task_type)]
        else:
            endpoint = self.endpoint(inference_id)
            self._check_task(task_type, endpoint)
            chosen = [endpoint]
        return {"endpoints": [self.show(e) for e in sorted(chosen,
                                                             key=lambda e: e.inference_id)]}

    @staticmethod
    def _check_task(task_type: str | None, endpoint: Endpoint) -> None:
        if task_type is not None and task_type != endpoint.task_type:
            raise EngineError(f"Requested task type [{task_type}] does not match the inference "
                              f"endpoint's task type [{endpoint.task_type}]", status=400,
                              error_type="status_exception")

    def users(self, inference_id: str) -> list[str]:
        """Indices whose semantic_text fields name the endpoint."""
        return sorted(svc.name for svc in list(self.node.indices.values())
                      if any(spec.type == "semantic_text" and inference_id in (
                          spec.params.get("inference_id"),
                          spec.params.get("search_inference_id"))
                          for spec in svc.mapping.fields.values()))

    def delete(self, task_type: str | None, inference_id: str, *, force: bool,
               dry_run: bool) -> dict[str, Any]:
        with self._lock:
            endpoint = self.endpoint(inference_id)
            self._check_task(task_type, endpoint)
            indices = self.users(inference_id)
            if dry_run:
                return {"acknowledged": False, "pipelines": [], "semantic_text_indices": indices}
            if indices and not force:
                raise EngineError(
                    f"Inference endpoint {inference_id} is being used in the mapping for "
                    f"indexes: {set(indices)}. Ensure that no index mappings are using this "
                    "inference endpoint, or use force to ignore this warning and delete the "
                    "inference endpoint.", status=400, error_type="status_exception")
            del self.endpoints[inference_id]
            self._save()
        return {"acknowledged": True, "pipelines": [], "semantic_text_indices": []}

    def update(self, task_type: str | None, inference_id: str, body: Any) -> dict[str, Any]:
        """`_update`: new task settings, secrets and allocations; the model stays."""
        if not isinstance(body, dict):
            raise BadRequest("request body is required")
        unknown = sorted(set(body) - _UPDATE_KEYS)
        if unknown:
            raise EngineError(f"Unknown fields in update request: {unknown}", status=400,
                              error_type="status_exception")
        self.require_license()
        with self._lock:
            endpoint = self.endpoint(inference_id)
            self._check_task(task_type or body.get("task_type"), endpoint)
            settings = dict(body.get("service_settings") or {})
            for key in ("api_key", "secret_key", "access_key"):
                if key in settings:
                    endpoint.secrets[key] = settings.pop(key)
            for key in ("num_allocations", "adaptive_allocations"):
                if key in settings:
                    endpoint.service_settings[key] = settings.pop(key)
            if settings:
                raise EngineError(f"Cannot update settings {sorted(settings)} of the inference "
                                  f"endpoint [{inference_id}]", status=400,
                                  error_type="status_exception")
            if body.get("task_settings") is not None:
                endpoint.task_settings = {**endpoint.task_settings, **body["task_settings"]}
            if body.get("chunking_settings") is not None:
                endpoint.chunking_settings = parse_chunking(body["chunking_settings"])
            self._save()
        return self.show(endpoint)

    # inference ------------------------------------------------------------------------------

    def infer(self, task_type: str | None, inference_id: str, body: Any) -> dict[str, Any]:
        """`POST _inference/{task_type}/{id}`."""
        endpoint = self.endpoint(inference_id)
        self._check_task(task_type, endpoint)
        if not isinstance(body, dict):
            raise BadRequest("request body is required")
        texts = body.get("input")
        errors = []
        if texts is None:
            errors.append("Field [input] cannot be null")
        elif isinstance(texts, list) and not texts:
            errors.append("Field [input] cannot be an empty array")
        query = body.get("query")
        if endpoint.task_type == "rerank":
            if query is None:
                errors.append("Field [query] cannot be null for task type [rerank]")
            elif query == "":
                errors.append("Field [query] cannot be empty for task type [rerank]")
        if errors:
            raise validation_error(errors)
        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        self.require_license()
        backend = self.backend(endpoint)
        if endpoint.task_type == "text_embedding":
            vectors = backend.embed(endpoint, texts, body.get("input_type", "search").lower())
            return {"text_embedding": [{"embedding": v} for v in vectors]}
        if endpoint.task_type == "sparse_embedding":
            weights = backend.embed(endpoint, texts, "search")
            return {"sparse_embedding": [{"is_truncated": False, "embedding": w}
                                         for w in weights]}
        if endpoint.task_type == "rerank":
            ranked = backend.rerank(endpoint, str(query), texts)
            top_n = (body.get("task_settings") or {}).get("top_n") or body.get("top_n") or \
                endpoint.task_settings.get("top_n")
            documents = (body.get("task_settings") or {}).get(
                "return_documents", endpoint.task_settings.get("return_documents", True))
            return {"rerank": [
                {"index": i, "relevance_score": s, **({"text": texts[i]} if documents else {})}
                for i, s in ranked[:top_n or None]]}
        raise unsupported_task(endpoint.service, endpoint.task_type)

    def query_embedding(self, inference_id: str, text: str) -> tuple[str, Any]:
        """(task type, embedding) of a query text (semantic, match, knn, sparse_vector)."""
        endpoint = self.endpoint(inference_id)
        self.require_license()
        if endpoint.task_type not in ("text_embedding", "sparse_embedding"):
            raise BadRequest(f"Field [inference_id] must reference an inference endpoint with "
                             f"task type [text_embedding] or [sparse_embedding], "
                             f"[{inference_id}] has task type [{endpoint.task_type}]")
        return endpoint.task_type, self.backend(endpoint).embed(endpoint, [text], "search")[0]

    def rerank(self, inference_id: str, query: str, docs: list[str]) -> list[tuple[int, float]]:
        """(index, score) of each doc for the text_similarity_reranker retriever."""
        endpoint = self.endpoint(inference_id)
        self.require_license()
        if endpoint.task_type != "rerank":
            raise BadRequest(f"Inference endpoint [{inference_id}] does not support task type "
                             f"[rerank]: its task type is [{endpoint.task_type}]")
        return self.backend(endpoint).rerank(endpoint, query, docs)
