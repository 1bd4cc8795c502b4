"""The file realm: users an operator defines in `config/users` and `config/users_roles`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import AuthenticationException, Elasticsearch

from es_rag.engine.security.passwords import hash_password
from es_rag.engine.server import EngineServer


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineServer]:
    config = tmp_path / "config"
    config.mkdir()
    (config / "users").write_text(f"# operators\nops:{hash_password('ops-password')}\n"
                                  f"reader:{hash_password('reader-password')}\n")
    (config / "users_roles").write_text("superuser:ops\nviewer:reader\n")
    server = EngineServer(tmp_path, port=0, elastic_password="elastic-password").start()
    yield server
    server.stop()


def test_a_file_realm_user_logs_in_with_its_roles(engine: EngineServer) -> None:
    ops = Elasticsearch(engine.url, basic_auth=("ops", "ops-password"))
    me = ops.security.authenticate()
    assert me["username"] == "ops" and me["roles"] == ["superuser"]
    assert me["authentication_realm"] == {"name": "default_file", "type": "file"}
    ops.indices.create(index="logs")
    reader = Elasticsearch(engine.url, basic_auth=("reader", "reader-password"))
    assert reader.security.authenticate()["roles"] == ["viewer"]
    with pytest.raises(AuthenticationException):
        Elasticsearch(engine.url, basic_auth=("ops", "wrong-password")).info()


def test_file_users_are_not_native_users(engine: EngineServer) -> None:
    elastic = Elasticsearch(engine.url, basic_auth=("elastic", "elastic-password"))
    assert "ops" not in elastic.security.get_user()
    # deleting every native user (as a test cluster's wipe does) leaves file users in place
    elastic.security.put_user(username="ops2", password="ops2-password", roles=["superuser"])
    elastic.security.delete_user(username="ops2")
    ops = Elasticsearch(engine.url, basic_auth=("ops", "ops-password"))
    assert ops.security.authenticate()["username"] == "ops"


def test_a_failed_file_realm_check_falls_through_to_the_native_realm(
        engine: EngineServer) -> None:
    elastic = Elasticsearch(engine.url, basic_auth=("elastic", "elastic-password"))
    elastic.security.put_user(username="reader", password="native-password", roles=["editor"])
    native = Elasticsearch(engine.url, basic_auth=("reader", "native-password"))
    me = native.security.authenticate()
    assert me["authentication_realm"]["type"] == "native" and me["roles"] == ["editor"]
    from_file = Elasticsearch(engine.url, basic_auth=("reader", "reader-password"))
    assert from_file.security.authenticate()["authentication_realm"]["type"] == "file"
