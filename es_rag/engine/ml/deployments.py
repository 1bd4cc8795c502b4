"""A started model deployment: its parameters, its loaded model and its inference counters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .config import Tokenization
from .runtime import LoadedModel

_START_PARAMS = ("threads_per_allocation", "number_of_allocations", "queue_capacity",
                 "priority", "cache_size")


def iso_millis(millis: int) -> str:
    """An epoch-millis instant as Elasticsearch prints it (`2025-01-01T00:00:00.000Z`)."""
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Deployment:
    """One deployment of a model; the model is loaded on first use (after an engine restart
    it is loaded again from the stored definition, as Elasticsearch restarts deployments)."""

    def __init__(self, record: dict[str, Any], load: Callable[[str], LoadedModel]) -> None:
        self.record = record
        self.deployment_id: str = record["deployment_id"]
        self.model_id: str = record["model_id"]
        self._load = load
        self._model: LoadedModel | None = None
        self._lock = threading.Lock()
        self.inference_count = 0
        self.error_count = 0
        self.total_time = 0.0
        self.last_access: int | None = None

    @property
    def model(self) -> LoadedModel:
        """The loaded model (loading it now if needed)."""
        with self._lock:
            if self._model is None:
                self._model = self._load(self.model_id)
            return self._model

    def embed(self, text: str, tokenization: Tokenization | None = None
              ) -> tuple[list[float], bool]:
        """Run the model on one text, counting the inference (and its failure)."""
        started = time.perf_counter()
        try:
            result = self.model.embed(text, tokenization,
                                      self.record["threads_per_allocation"])
        except Exception:
            self.error_count += 1
            raise
        self.inference_count += 1
        self.total_time += time.perf_counter() - started
        self.last_access = int(time.time() * 1000)
        return result

    def task_parameters(self, model_bytes: int) -> dict[str, Any]:
        """The `task_parameters` of the deployment's assignment."""
        params = {key: self.record[key] for key in _START_PARAMS}
        return {"model_id": self.model_id, "deployment_id": self.deployment_id,
                "model_bytes": model_bytes, **params,
                "per_deployment_memory_bytes": 0, "per_allocation_memory_bytes": 0}

    def assignment(self, node_id: str, model_bytes: int) -> dict[str, Any]:
        """The `assignment` object of a start deployment response."""
        allocations = self.record["number_of_allocations"]
        return {"task_parameters": self.task_parameters(model_bytes),
                "routing_table": {node_id: {"current_allocations": allocations,
                                            "target_allocations": allocations,
                                            "routing_state": "started", "reason": ""}},
                "assignment_state": "started",
                "start_time": iso_millis(self.record["start_time"]),
                "max_assigned_allocations": allocations}

    def stats(self, node: dict[str, Any]) -> dict[str, Any]:
        """The `deployment_stats` of `_ml/trained_models/_stats`."""
        allocations = self.record["number_of_allocations"]
        average = self.total_time * 1000 / self.inference_count if self.inference_count else 0.0
        counters = {"inference_count": self.inference_count, "error_count": self.error_count,
                    "rejected_execution_count": 0, "timeout_count": 0}
        node_stats: dict[str, Any] = {
            "node": node, "routing_state": {"routing_state": "started"},
            **counters, "average_inference_time_ms": average,
            "average_inference_time_ms_excluding_cache_hits": average,
            "inference_cache_hit_count": 0, "number_of_pending_requests": 0,
            "start_time": self.record["start_time"],
            "threads_per_allocation": self.record["threads_per_allocation"],
            "number_of_allocations": allocations}
        if self.last_access is not None:
            node_stats["last_access"] = self.last_access
        return {"deployment_id": self.deployment_id, "model_id": self.model_id,
                **{key: self.record[key] for key in _START_PARAMS},
                "state": "started",
                "allocation_status": {"allocation_count": allocations,
                                      "target_allocation_count": allocations,
                                      "state": "fully_allocated"},
                **counters, "start_time": self.record["start_time"], "nodes": [node_stats]}
