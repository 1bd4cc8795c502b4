"""Fixtures for the admin UI: a chunk corpus on the session engine and a logged-in test client."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient
from retrieve.corpus import index_corpus, shared_embedder
from ui_support import INDEX, UI_CORPUS, log_in

from es_rag.assets import load_assets
from es_rag.config import PROJECT_ROOT, Settings

# tests/ is on sys.path, where this folder would pass for the `admin_ui` package: the
# project root goes first so the real package is found (needs pytest `pythonpath = ["."]`).
sys.path.insert(0, str(PROJECT_ROOT))
sys.modules.pop("admin_ui", None)
from admin_ui import create_app  # noqa: E402


@pytest.fixture(scope="module")
def cluster(engine: Any) -> Iterator[Elasticsearch]:
    """The session engine with the corpus in `ui-chunks-v1` behind the alias `ui-chunks`.

    Indexed again for each module: this folder is no Python package, so a package scope would
    be the session's, and a test elsewhere whose `es` fixture deletes every index could run
    between two modules of this folder (pytest-xdist interleaves files on a worker). None of
    the project's assets is stored there to begin with, whatever tests ran before."""
    client = Elasticsearch(engine.url, request_timeout=30)
    remove_stored_assets(client)
    index_corpus(client, f"{INDEX}-v1", UI_CORPUS)
    client.indices.update_aliases(actions=[{"add": {"index": f"{INDEX}-v1", "alias": INDEX,
                                                    "is_write_index": True}}])
    yield client
    client.options(ignore_status=404).indices.delete(index=f"{INDEX}-v1")
    client.close()


@pytest.fixture
def assets_dir(tmp_path: Path) -> Path:
    """A private copy of the repository's assets, so saving templates touches no real file."""
    root = tmp_path / "repo"
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    shutil.copy(PROJECT_ROOT / "retrieval.json", root / "retrieval.json")
    return root


@pytest.fixture
def settings(engine: Any, cluster: Elasticsearch, assets_dir: Path, tmp_path: Path) -> Settings:
    return Settings(url=engine.url, data=tmp_path / "data", assets=assets_dir, index=INDEX)


@pytest.fixture
def app(settings: Settings) -> Flask:
    """The admin UI for a development cluster (security disabled, so login is allowed)."""
    app = create_app(settings, allow_without_security=True, embedder=shared_embedder())
    app.config["TESTING"] = True
    return app


@pytest.fixture
def browser_client(app: Flask) -> FlaskClient:
    """A test client that is logged in."""
    client = app.test_client()
    response = log_in(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def remove_stored_assets(client: Elasticsearch) -> None:
    """Remove from the engine what applying the project's assets stores: its pipelines, search
    templates and retrieval.json's script, and the versions of the chunk index."""
    assets = load_assets(PROJECT_ROOT)
    quiet = client.options(ignore_status=404)
    for pipeline in assets.pipelines:
        quiet.ingest.delete_pipeline(id=pipeline.name)
    for script in [*assets.templates, *assets.retrieval]:
        quiet.delete_script(id=script.name)
    quiet.indices.delete(index="chunks-v*")


@pytest.fixture
def stored_assets_removed(cluster: Elasticsearch) -> Iterator[None]:
    """Removes what applying the assets stores on the shared engine, once the test is done."""
    yield
    remove_stored_assets(cluster)
