"""`GET /metrics` is authenticated like every route: the cluster must accept the caller's
credentials. `metrics_open_on_loopback` lets a local Prometheus agent in without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.secured_cluster import basic
from es_rag.api import create_api_app
from es_rag.config import Settings
from es_rag.engine.server import EngineServer

PASSWORD = "metrics-admin-pw"


@pytest.fixture(scope="module")
def secured_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    server = EngineServer(tmp_path_factory.mktemp("metrics-engine"), port=0, security=True,
                          elastic_password=PASSWORD).start()
    yield server
    server.stop()


def test_metrics_need_credentials_the_cluster_accepts(secured_engine: EngineServer) -> None:
    api = create_api_app(Settings(url=secured_engine.url)).test_client()
    anonymous = api.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json["error"]["type"] == "security_exception"
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = api.get("/metrics", headers={"Authorization": basic("elastic", "not-it")})
    assert wrong.status_code == 401 and "es_rag_" not in wrong.get_data(as_text=True)
    admitted = api.get("/metrics", headers={"Authorization": basic("elastic", PASSWORD)})
    assert admitted.status_code == 200
    assert "# TYPE es_rag_request_duration_seconds histogram" in admitted.get_data(as_text=True)


def test_loopback_may_scrape_without_credentials_when_configured(
        secured_engine: EngineServer) -> None:
    api = create_api_app(Settings(url=secured_engine.url,
                                  metrics_open_on_loopback=True)).test_client()
    assert api.get("/metrics").status_code == 200  # the test client calls from 127.0.0.1
    remote = api.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 401
    assert api.post("/api/search", json={"query": "x"}).status_code == 401  # only /metrics
