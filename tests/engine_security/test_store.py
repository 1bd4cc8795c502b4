"""Security data survives restarts; the `elastic` password is bootstrapped once, privately."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import PASSWORD_ENV, PASSWORD_FILE, Security

from .conftest import Call, api_key, basic


def test_users_roles_and_keys_survive_a_restart(tmp_path: Path, call: Call,
                                                security: Security) -> None:
    call("PUT", "/_security/role/reader", {"indices": [{"names": ["docs"], "privileges": ["read"],
                                                        "query": {"term": {"acl": "x"}}}]})
    call("PUT", "/_security/user/joe", {"password": "joe-password", "roles": ["reader"]})
    created = call("POST", "/_security/api_key", {"name": "k"})[1]

    restarted = Security(tmp_path)
    assert restarted.store.bootstrap_password is None
    joe = restarted.authenticate(basic("joe", "joe-password"))
    assert restarted.dls_query(joe, "docs") == {"term": {"acl": "x"}}
    assert restarted.authenticate(api_key(created["encoded"])).username == "elastic"
    state = (tmp_path / "security.json").read_text()
    assert "joe-password" not in state and created["api_key"] not in state
    assert stat.S_IMODE((tmp_path / "security.json").stat().st_mode) == 0o600


def test_the_bootstrap_password_is_created_once_and_private(tmp_path: Path) -> None:
    first = Security(tmp_path)
    password_file = tmp_path / PASSWORD_FILE
    password = first.store.bootstrap_password
    assert password and password_file.read_text().strip() == password
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert first.authenticate(basic("elastic", password)).roles == ("superuser",)

    second = Security(tmp_path)
    assert second.store.bootstrap_password is None
    assert password_file.read_text().strip() == password
    assert second.authenticate(basic("elastic", password)).username == "elastic"


def test_the_password_can_be_set_by_environment(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "from-the-env")
    security = Security(tmp_path)
    assert security.store.bootstrap_password is None
    assert not (tmp_path / PASSWORD_FILE).exists()
    security.authenticate(basic("elastic", "from-the-env"))


def test_changing_elastics_password_keeps_the_cli_file_in_step(tmp_path: Path, call: Call,
                                                               security: Security) -> None:
    call("POST", "/_security/user/elastic/_password", {"password": "a-new-password"})
    assert (tmp_path / PASSWORD_FILE).read_text().strip() == "a-new-password"
    restarted = Security(tmp_path)
    restarted.authenticate(basic("elastic", "a-new-password"))
    with pytest.raises(EngineError):
        restarted.authenticate(basic("elastic", security.store.bootstrap_password))


def test_reset_forgets_everything_but_elastic(tmp_path: Path, call: Call,
                                              security: Security) -> None:
    call("PUT", "/_security/role/reader", {"cluster": ["monitor"]})
    call("PUT", "/_security/user/joe", {"password": "joe-password", "roles": ["reader"]})
    created = call("POST", "/_security/api_key", {"name": "k"})[1]
    security.reset()
    for headers in (basic("joe", "joe-password"), api_key(created["encoded"])):
        with pytest.raises(EngineError):
            security.authenticate(headers)
    assert call("GET", "/_security/role/reader") == (404, {})
    assert Security(tmp_path).authenticate(
        basic("elastic", security.store.bootstrap_password)).username == "elastic"
