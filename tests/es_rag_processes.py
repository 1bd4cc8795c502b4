"""es-rag run as a user runs it: a real process (`python -m es_rag`), the embedded engine with
security on, in a working copy of the project.

`docs_engine` (a session fixture, registered by tests/conftest.py) starts one engine with
`es-rag engine start` and runs `es-rag demo` on it, which applies the assets and ingests docs/
and README.md: the documentation examples and the CLI process tests share it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from es_rag.config import PROJECT_ROOT

ES_RAG = [sys.executable, "-m", "es_rag"]
# What a working copy holds: the assets, and the docs that are also the demo corpus.
WORKING_COPY = ("README.md", "docs", "mappings", "pipelines", "templates", "roles", "inference")


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_env(data: Path, assets: Path | None = None) -> dict[str, str]:
    """Settings for a private embedded engine on `data` (and an assets folder)."""
    env = {"ES_RAG_DATA": str(data), "ES_RAG_ENGINE_PORT": str(free_port())}
    if assets is not None:
        env["ES_RAG_ASSETS"] = str(assets)
    return env


def process_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of this process with `env` on top, and no cluster or login from outside."""
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("ES_RAG_URL", "ES_RAG_API_KEY", "ES_RAG_USER", "ES_RAG_PASSWORD",
                              "ES_RAG_CLOUD_ID", "ES_RAG_CONFIG")}
    return {**inherited, **env}


def run(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 300,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """`es-rag ARGS...` as a process; stdout and stderr captured as text."""
    return subprocess.run([*ES_RAG, *args], capture_output=True, text=True, timeout=timeout,
                          env=process_env(env), cwd=cwd, input=input_text)


def working_copy(target: Path) -> Path:
    """A copy of the project's assets and docs at `target`, safe to edit."""
    target.mkdir(parents=True, exist_ok=True)
    for name in WORKING_COPY:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    return target


@dataclass
class DocsEngine:
    """A running engine with the project's assets applied and its docs ingested."""

    env: dict[str, str]
    root: Path  # the working copy (ES_RAG_ASSETS)
    outputs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    @property
    def password(self) -> str:
        """The generated password of the engine's `elastic` superuser."""
        return (Path(self.env["ES_RAG_DATA"]) / "elastic-password").read_text().strip()


@pytest.fixture(scope="session")
def docs_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsEngine]:
    """`es-rag engine start`, then `es-rag demo`, in a working copy; stopped at the end."""
    root = working_copy(tmp_path_factory.mktemp("docs-engine") / "project")
    shared = DocsEngine(engine_env(root / ".es-rag", root), root)
    try:
        shared.outputs["engine start"] = run("engine", "start", env=shared.env, cwd=root)
        shared.outputs["demo"] = run("demo", env=shared.env, cwd=root, timeout=600)
        yield shared
    finally:
        run("engine", "stop", env=shared.env, cwd=root)
