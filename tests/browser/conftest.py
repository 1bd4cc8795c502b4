"""Fixtures for the browser tests: the admin UI served on a free port, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from retrieve.corpus import CORPUS, _chunk, index_corpus, shared_embedder
from werkzeug.serving import make_server

from es_rag.config import PROJECT_ROOT, Settings

# tests/ is on sys.path, where tests/admin_ui would pass for the `admin_ui` package: the
# project root goes first so the real package is found (needs pytest `pythonpath = ["."]`).
sys.path.insert(0, str(PROJECT_ROOT))
sys.modules.pop("admin_ui", None)
from admin_ui import create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
INDEX = "browser-chunks"
SCRIPT_CHUNK = _chunk("evil#0", "Untrusted <b>quota</b>",
                      "Evil <script>alert('xss')</script> payload hidden in a quota document",
                      acl=("mallory",))


@pytest.fixture(scope="module")
def ui(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The admin UI (development mode) over a corpus, served on 127.0.0.1; yields its URL."""
    client = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(client, f"{INDEX}-v1", [*CORPUS, SCRIPT_CHUNK])
    client.indices.update_aliases(actions=[{"add": {"index": f"{INDEX}-v1", "alias": INDEX}}])
    root = tmp_path_factory.mktemp("repo")
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    shutil.copy(PROJECT_ROOT / "retrieval.json", root / "retrieval.json")
    settings = Settings(url=engine.url, data=root / ".es-rag", assets=root, index=INDEX)
    app = create_app(settings, allow_without_security=True, embedder=shared_embedder())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "assets": root, "es": client}
    server.shutdown()
    quiet = client.options(ignore_status=404)
    quiet.indices.delete(index=f"{INDEX}-v1")
    for stored in ("bm25", "hybrid", "knn", "es-rag-retrieval"):  # stored by the tuning step
        quiet.delete_script(id=stored)
    client.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the page screenshots go: $ES_RAG_SCREENSHOTS, else a temporary folder."""
    folder = Path(os.environ.get("ES_RAG_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; the tests skip where it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian packages chromium and "
                    "chromium-driver to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
