"""`es-rag serve` runs the API on a production WSGI server at the host and port asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import waitress

from es_rag.api import serve_api
from es_rag.config import Settings


def test_serve_api_serves_the_api_app_with_waitress(monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **options: served.update(app=app,
                                                                                 **options))
    serve_api(Settings(url="http://127.0.0.1:9"), host="127.0.0.1", port=8123)
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    response = served["app"].test_client().get("/api/openapi.json")
    assert response.status_code == 200 and "/api/ask" in response.json["paths"]


def _torch_threads_when_served(**env: str) -> int:
    """torch's intra-op threads in a process that served the API, started with `env` (and no
    OMP_NUM_THREADS of its own)."""
    code = ("import waitress, torch\n"
            "from es_rag.api import serve_api\n"
            "from es_rag.config import Settings\n"
            "waitress.serve = lambda app, **options: None\n"
            "serve_api(Settings(url='http://127.0.0.1:9'))\n"
            "print(torch.get_num_threads())\n")
    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**base, **env})
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_the_served_api_runs_model_calls_on_one_thread_unless_told_otherwise() -> None:
    assert _torch_threads_when_served() == 1
    assert _torch_threads_when_served(OMP_NUM_THREADS="2") == 2
