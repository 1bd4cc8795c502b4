"""Long operations from the overview: apply the assets and ingest a folder, with progress."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from retrieve.corpus import chunk_index_body, shared_embedder
from ui_support import log_in, token

from admin_ui import create_app
from admin_ui.jobs import Jobs
from es_rag import run_records
from es_rag.config import Settings


def _wait(client: FlaskClient, job_id: str, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while (status := client.get(f"/jobs/{job_id}.json").get_json())["state"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    return status


def test_ingest_from_the_overview_records_its_report(
        engine: Any, cluster: Elasticsearch, assets_dir: Path, tmp_path: Path) -> None:
    cluster.options(ignore_status=404).indices.delete(index="ui-ingest-v1")
    cluster.indices.create(index="ui-ingest-v1", **chunk_index_body())
    cluster.indices.put_alias(index="ui-ingest-v1", name="ui-ingest")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "quota.md").write_text("# Quotas\n\nThe disk quota of a project is 10 GB.\n")
    (docs / "vpn.md").write_text("# VPN\n\nConnect through the VPN before the dashboards.\n")
    settings = Settings(url=engine.url, data=tmp_path / "data", assets=assets_dir,
                        index="ui-ingest", ingest_roots=(tmp_path,))
    client = create_app(settings, allow_without_security=True,
                        embedder=shared_embedder()).test_client()
    log_in(client)
    try:
        client.post("/overview/ingest", data={"csrf_token": token(client), "path": str(docs)})
        status = _wait(client, "ingest-1")
        assert status["state"] == "done", status
        [record] = run_records.read_records(settings.data, "ingest")
        assert record["files"]["parsed"] == 2 and record["paths"] == [str(docs)]
        html = client.get("/overview").get_data(as_text=True)
        assert '<span class="num" id="document-count">2</span>' in html
    finally:
        cluster.options(ignore_status=404).indices.delete(index="ui-ingest-v1")


def test_apply_from_the_overview_brings_the_cluster_in_sync(
        browser_client: FlaskClient, cluster: Elasticsearch, stored_assets_removed: None) -> None:
    html = browser_client.get("/overview").get_data(as_text=True)
    assert "Apply 6 change(s)" in html  # the pipeline, 3 templates, retrieval.json, the index
    browser_client.post("/overview/apply", data={"csrf_token": token(browser_client)})
    try:
        status = _wait(browser_client, "apply-1")
        assert status["state"] == "done", status
        html = browser_client.get("/overview").get_data(as_text=True)
        assert "in sync" in html
    finally:
        cluster.options(ignore_status=404).indices.delete(index="chunks-v*")


def test_a_failing_job_reports_its_error() -> None:
    jobs = Jobs()

    def work(job: Any) -> None:
        job.progress("index", 3, 10)
        raise RuntimeError("the cluster went away")

    job = jobs.start("ingest", "ingest docs", work)
    deadline = time.monotonic() + 5
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.as_dict()["line"] == "failed: the cluster went away"
    assert jobs.latest("ingest") is job


def test_the_ingest_form_reads_only_inside_the_configured_roots(
        engine: Any, cluster: Elasticsearch, assets_dir: Path, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "docs").mkdir(parents=True)
    (allowed / "docs" / "ok.md").write_text("# Allowed\n\nThis folder may be ingested.\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "keys.md").write_text("# Keys\n\nNot for the index.\n")
    (allowed / "escape").symlink_to(secret, target_is_directory=True)
    settings = Settings(url=engine.url, data=tmp_path / "data", assets=assets_dir,
                        index="ui-roots", ingest_roots=(allowed,))
    client = create_app(settings, allow_without_security=True,
                        embedder=shared_embedder()).test_client()
    log_in(client)
    html = client.get("/overview").get_data(as_text=True)
    assert f"<code>{allowed}</code>" in html  # the form says where it may read

    for path in (str(secret), "/etc", "docs/../../secret", str(allowed / "escape"),
                 str(allowed / "escape" / "keys.md")):
        page = client.post("/overview/ingest", data={"csrf_token": token(client), "path": path},
                           follow_redirects=True).get_data(as_text=True)
        assert "Not ingested:" in page and "is outside the folders open to ingest" in page, path
        assert str(allowed) in page
    assert client.get("/jobs/ingest-1.json").status_code == 404  # no job was started
    assert run_records.read_records(settings.data, "ingest") == []


def test_without_ingest_roots_the_form_ingests_nothing(
        engine: Any, cluster: Elasticsearch, assets_dir: Path, tmp_path: Path) -> None:
    settings = Settings(url=engine.url, data=tmp_path / "data", assets=assets_dir,
                        index="ui-roots")
    client = create_app(settings, allow_without_security=True).test_client()
    log_in(client)
    assert "No folder is open to ingest" in client.get("/overview").get_data(as_text=True)
    page = client.post("/overview/ingest", data={"csrf_token": token(client),
                                                 "path": str(tmp_path)},
                       follow_redirects=True).get_data(as_text=True)
    assert "setting ingest_roots is empty" in page
    assert client.get("/jobs/ingest-1.json").status_code == 404
