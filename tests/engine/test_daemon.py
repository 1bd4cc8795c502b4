"""The background engine: start, find the running one, status, stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import AuthenticationException, Elasticsearch

from es_rag.engine import daemon


def test_start_status_stop(tmp_path: Path) -> None:
    url = daemon.start_background(tmp_path, port=0)
    try:
        with pytest.raises(AuthenticationException):
            Elasticsearch(url).info()  # security is on by default
        password = (tmp_path / "elastic-password").read_text().strip()
        client = Elasticsearch(url, basic_auth=("elastic", password))
        assert client.info()["tagline"] == "You Know, for Search"
        assert daemon.start_background(tmp_path, port=0) == url
        status = daemon.status(tmp_path)
        assert status is not None and status["url"] == url
    finally:
        assert daemon.stop(tmp_path)
    assert daemon.status(tmp_path) is None
    assert not daemon.stop(tmp_path)
