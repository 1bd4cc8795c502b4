"""Date math in index names (`<logs-{now/d}>`, URL-encoded by the client): resolved when an
index is created, written to, searched and deleted, with Elasticsearch's parse errors, and
authorized against the resolved name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import AuthorizationException, BadRequestError, Elasticsearch

from es_rag.engine.date_math_names import resolve as resolve_index_name
from es_rag.engine.server import EngineServer


def today(fmt: str = "%Y.%m.%d", days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime(fmt)


def test_index_apis_resolve_date_math_names(es: Elasticsearch) -> None:
    created = es.indices.create(index="<logs-{now/d}>")
    assert created["index"] == f"logs-{today()}"
    es.index(index="<logs-{now/d}>", id="1", document={"msg": "hello"}, refresh=True)
    assert es.get(index=f"logs-{today()}", id="1")["_source"] == {"msg": "hello"}
    assert es.count(index="<logs-{now/d}>")["count"] == 1
    es.bulk(refresh=True, operations=[{"index": {"_index": "<logs-{now/M{uuuu.MM}}>"}},
                                      {"msg": "monthly"}])
    assert sorted(es.indices.get(index="logs-*")) == sorted(
        [f"logs-{today()}", f"logs-{today('%Y.%m')}"])
    es.indices.delete(index="<logs-{now/M{uuuu.MM}}>")
    assert list(es.indices.get(index="logs-*")) == [f"logs-{today()}"]


def test_date_math_names_follow_elasticsearch_grammar() -> None:
    now = datetime(2024, 3, 22, 20, 0, tzinfo=UTC)
    assert resolve_index_name("<logs-{now/d}>", now) == "logs-2024.03.22"
    assert resolve_index_name("<logs-{now-1d/d}>", now) == "logs-2024.03.21"
    assert resolve_index_name("<logs-{now/M{uuuu.MM}}>", now) == "logs-2024.03"
    assert resolve_index_name("<logs-{now/d{uuuu.MM.dd|+12:00}}>", now) == "logs-2024.03.23"
    assert resolve_index_name("<\\{x\\}-{now/y{uuuu}}>", now) == "{x}-2024"
    assert resolve_index_name("plain-name", now) == "plain-name"


def test_malformed_date_math_names_are_refused(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        es.indices.create(index="<logs-{now/d>")
    assert err.value.error == "parse_exception"
    assert err.value.body["error"]["reason"] == \
        "invalid dynamic name expression [logs-{now/d>]. date math placeholder is open ended"
    with pytest.raises(BadRequestError, match="missing date format"):
        es.indices.create(index="<logs-{now/d{}}>")
    with pytest.raises(BadRequestError, match=r"invalid character at position \[3\]"):
        es.indices.create(index="<lo}gs>")


def test_date_math_names_are_authorized_by_the_name_they_resolve_to(tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, elastic_password="admin-password").start()
    try:
        admin = Elasticsearch(server.url, basic_auth=("elastic", "admin-password"))
        admin.security.put_role(name="logs_writer", indices=[
            {"names": ["logs-*"], "privileges": ["create_index", "write", "read"]}])
        admin.security.put_user(username="shipper", password="shipper-password",
                                roles=["logs_writer"])
        shipper = Elasticsearch(server.url, basic_auth=("shipper", "shipper-password"))
        shipper.indices.create(index="<logs-{now/d}>")
        shipper.index(index="<logs-{now/d}>", document={"msg": "x"}, refresh=True)
        assert shipper.count(index="<logs-{now/d}>")["count"] == 1
        with pytest.raises(AuthorizationException):
            shipper.indices.create(index="<metrics-{now/d}>")
    finally:
        server.stop()
