"""Third-party RAG clients run their own flows against the engine, as their users run them:
langchain-elasticsearch (every retrieval strategy), the Haystack Elasticsearch document store
and retrievers, and LlamaIndex's Elasticsearch vector store.

They pin the 8.x `elasticsearch` client, so they live in their own virtualenv (`.venv-clients`,
built by `make test`); each flow is a script under `flows/` run with that interpreter against an
engine with security on, printing one JSON object of what it saw.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from es_rag.engine.server import EngineServer

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-clients" / "bin" / "python"
FLOWS = Path(__file__).with_name("flows")
PASSWORD = "clients-test-password"

pytestmark = pytest.mark.skipif(
    not PYTHON.exists(), reason="the clients' virtualenv .venv-clients is missing (make test "
                                "builds it)")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    server = EngineServer(tmp_path_factory.mktemp("clients-engine"), port=0,
                          elastic_password=PASSWORD).start()
    yield {"ES_URL": server.url, "ES_USER": "elastic", "ES_PASSWORD": PASSWORD}
    server.stop()


def _flow(name: str, endpoint: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([str(PYTHON), str(FLOWS / f"{name}_flow.py")], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **endpoint})
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return json.loads(lines[-1])


def test_langchain_every_retrieval_strategy(endpoint) -> None:
    seen = _flow("langchain", endpoint)
    for strategy in ("dense", "dense_hybrid", "dense_script_score", "bm25"):
        result = seen[strategy]
        assert "error" not in result, (strategy, result)
        assert result["top"] == "Reciprocal rank fusion merges ranked lists", strategy
        # only one text holds "rank fusion" for BM25; the vector strategies return k=2
        assert result["n"] == (1 if strategy == "bm25" else 2), (strategy, result)
        assert result["filtered"] == ["ui"], (strategy, result)
        assert result["left"] == 3, strategy
    assert seen["dense_script_score"]["score"] == pytest.approx(2.0)  # cosine + 1.0, exact
    assert seen["retriever"] == {"top": "Reciprocal rank fusion merges ranked lists", "n": 1}


def test_haystack_document_store_and_retrievers(endpoint) -> None:
    seen = _flow("haystack", endpoint)
    assert "error" not in seen, seen
    assert (seen["written"], seen["count"], seen["count_after_delete"]) == (4, 4, 3)
    assert seen["bm25"][0] == "0" and seen["bm25_filtered"] == ["ui"]
    assert seen["embedding"][0] == "2" and seen["hybrid"][0] == "2"
    assert seen["filter_documents"] == ["1", "2"]


def test_llamaindex_vector_store(endpoint) -> None:
    seen = _flow("llamaindex", endpoint)
    for strategy in ("dense", "hybrid", "bm25"):
        result = seen[strategy]
        assert "error" not in result, (strategy, result)
        assert result["n"] >= 1 and result["filtered"] == ["ui"], (strategy, result)
        assert result["retriever"] == 1, strategy
    assert seen["dense"]["top"] == seen["hybrid"]["top"] == "n2"
