"""The overview's "Apply" settles: after applying on a cluster with security on, the overview
shows the assets in sync, with no pending change."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_support import log_in, token

from admin_ui import create_app
from es_rag.config import PROJECT_ROOT, Settings
from es_rag.engine.server import EngineServer

PASSWORD = "overview-admin-pw"


@pytest.fixture
def secured_engine(tmp_path: Path) -> Iterator[EngineServer]:
    server = EngineServer(tmp_path / "engine", port=0, security=True,
                          elastic_password=PASSWORD).start()
    yield server
    server.stop()


def test_after_apply_the_overview_shows_no_pending_change(secured_engine: EngineServer,
                                                          tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    app = create_app(Settings(url=secured_engine.url, data=tmp_path / "data", assets=root))
    app.config["TESTING"] = True
    client = app.test_client()
    assert log_in(client, "elastic", PASSWORD).status_code == 302

    before = client.get("/overview").get_data(as_text=True)
    assert "create</span></td><td>role</td><td><code>es-rag-reader</code>" in before
    assert "Apply 7 change(s)" in before

    client.post("/overview/apply", data={"csrf_token": token(client)})
    job = app.extensions["admin_ui"].jobs.latest("apply")
    deadline = time.monotonic() + 60
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state == "done", job.error

    after = client.get("/overview").get_data(as_text=True)
    assert "The cluster matches the files under the assets folder." in after
    assert "change(s)</button>" not in after
