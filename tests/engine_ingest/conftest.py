"""Fixtures for the ingest pipeline tests: a pipeline store in a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from es_rag.engine.ingest import PipelineStore


@pytest.fixture
def store(tmp_path: Path) -> PipelineStore:
    """An empty pipeline store persisted under the test's temporary directory."""
    return PipelineStore(tmp_path / "pipelines.json")


@pytest.fixture
def run(store: PipelineStore):
    """Store `processors` as a pipeline and run `source` through it; returns the new source
    (None when dropped)."""

    def run_pipeline(processors: list[dict[str, Any]], source: dict[str, Any],
                     **pipeline: Any) -> dict[str, Any] | None:
        store.put("under_test", {"processors": processors, **pipeline})
        outcome = store.execute("under_test", index="docs", doc_id="1", source=source)
        return None if outcome is None else outcome.source

    return run_pipeline
