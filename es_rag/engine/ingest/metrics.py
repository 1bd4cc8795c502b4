"""Counters behind the `ingest` section of `_nodes/stats`: documents, time and failures."""

from __future__ import annotations

import threading
from typing import Any


class IngestMetrics:
    """Per-pipeline and total counts, updated by every pipeline run (nested ones included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = _counters()
        self._pipelines: dict[str, dict[str, int]] = {}

    def record(self, pipeline_id: str, seconds: float, failed: bool, top_level: bool) -> None:
        """Count one run of `pipeline_id`; the total counts documents, not nested runs."""
        millis = int(seconds * 1000)
        with self._lock:
            targets = [self._pipelines.setdefault(pipeline_id, _counters())]
            if top_level:
                targets.append(self._total)
            for counters in targets:
                counters["count"] += 1
                counters["time_in_millis"] += millis
                counters["failed"] += int(failed)

    def forget(self, pipeline_id: str) -> None:
        """Drop the counters of a deleted pipeline."""
        with self._lock:
            self._pipelines.pop(pipeline_id, None)

    def stats(self, pipeline_ids: list[str]) -> dict[str, Any]:
        """The `ingest` object of a node's stats, with a zero entry for unused pipelines."""
        with self._lock:
            return {"total": {**self._total, "current": 0},
                    "pipelines": {pid: {**self._pipelines.get(pid, _counters()), "current": 0,
                                        "processors": []} for pid in pipeline_ids}}


def _counters() -> dict[str, int]:
    return {"count": 0, "time_in_millis": 0, "failed": 0}
