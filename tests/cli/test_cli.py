"""The es-rag command line as a user runs it: a real process, the embedded engine, clear errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ES_RAG = [sys.executable, "-m", "es_rag"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ES_RAG, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def engine_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for a private embedded engine, stopped after the test."""
    env = {"ES_RAG_DATA": str(tmp_path / "data"), "ES_RAG_ENGINE_PORT": str(_free_port())}
    env.pop("ES_RAG_URL", None)
    yield env
    run("engine", "stop", env=env)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("status", "plan", "apply", "ingest", "search", "ask", "demo", "engine"):
        assert command in result.stdout


def test_status_starts_the_engine_and_reports_its_capabilities(engine_env) -> None:
    result = run("status", "--json", env=engine_env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    caps = report["capabilities"]
    assert caps["engine"] == "embedded"
    assert caps["url"].endswith(":" + engine_env["ES_RAG_ENGINE_PORT"])
    assert caps["hybrid_path"] == "retriever"
    assert report["settings"]["data"] == engine_env["ES_RAG_DATA"]

    state = run("engine", "status", env=engine_env)
    assert state.returncode == 0 and "engine running at" in state.stdout
    assert run("engine", "stop", env=engine_env).stdout.strip() == "engine stopped"
    assert run("engine", "status", env=engine_env).returncode == 1


def test_bad_setting_is_one_clear_line(engine_env) -> None:
    result = run("status", env={**engine_env, "ES_RAG_LLM_PROVIDER": "gpt"})
    assert result.returncode != 0
    assert "ES_RAG_LLM_PROVIDER: 'gpt' is not one of extractive, openai, local" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_cluster_is_one_clear_line() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = run("status", env={"ES_RAG_URL": url})
    assert result.returncode != 0
    assert f"cannot reach Elasticsearch at {url}: connection refused" in result.stderr
    assert "Traceback" not in result.stderr
