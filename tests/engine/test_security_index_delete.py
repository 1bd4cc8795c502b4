"""Deleting the `.security` system index drops the native realm, as in Elasticsearch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import ApiError, AuthenticationException, Elasticsearch, ElasticsearchWarning

from es_rag.engine.server import EngineServer

PASSWORD = "bootstrap-secret"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Elasticsearch]:
    server = EngineServer(tmp_path / "engine", port=0, elastic_password=PASSWORD).start()
    client = Elasticsearch(server.url, basic_auth=("elastic", PASSWORD))
    yield client
    client.close()
    server.stop()


def _native_state(es: Elasticsearch) -> None:
    es.security.put_role(name="reader", cluster=["manage_own_api_key"],
                         indices=[{"names": ["*"], "privileges": ["read"]}])
    es.security.put_user(username="rita", password="rita-password", roles=["reader"])
    es.options(basic_auth=("rita", "rita-password")).security.create_api_key(name="k")


def test_deleting_the_security_index_drops_users_roles_and_api_keys(
        secured: Elasticsearch) -> None:
    _native_state(secured)
    secured.indices.create(index="books")
    with pytest.warns(ElasticsearchWarning, match="accesses system indices"):
        resp = secured.indices.delete(index=".security-7,books")
    assert resp["acknowledged"] is True
    assert not secured.indices.exists(index="books")
    assert "rita" not in secured.security.get_user()
    assert "reader" not in secured.security.get_role()
    assert secured.security.get_api_key()["api_keys"] == []
    with pytest.raises(AuthenticationException):
        secured.options(basic_auth=("rita", "rita-password")).security.authenticate()
    # the elastic user and its bootstrap password stay
    assert secured.security.authenticate()["username"] == "elastic"


def test_the_security_alias_cannot_be_deleted(secured: Elasticsearch) -> None:
    _native_state(secured)
    with pytest.raises(ApiError) as err:
        secured.indices.delete(index=".security")
    assert err.value.status_code == 400
    assert "matches an alias" in str(err.value.body)
    assert "rita" in secured.security.get_user()


def test_only_a_user_allowed_to_delete_it_can(secured: Elasticsearch) -> None:
    _native_state(secured)
    with pytest.raises(ApiError) as err:
        secured.options(basic_auth=("rita", "rita-password")).indices.delete(
            index=".security-7")
    assert err.value.status_code == 403
    assert "rita" in secured.security.get_user()
