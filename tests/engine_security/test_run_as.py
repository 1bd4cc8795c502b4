"""A service account runs requests as an end user with the `es-security-runas-user` header."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import RUN_AS_HEADER, Security

from .conftest import Call, basic

SEARCH = "indices:data/read/search"


@pytest.fixture(autouse=True)
def people(call: Call) -> None:
    call("PUT", "/_security/role/reader", {
        "cluster": ["manage_own_api_key"],
        "indices": [{"names": ["docs"], "privileges": ["read"],
                     "query": {"template": {"source": {"term": {"acl": "{{_user.username}}"}}}}}]})
    call("PUT", "/_security/role/impersonator", {"run_as": ["alice", "team-*"]})
    call("PUT", "/_security/user/alice", {"password": "alice-password", "roles": ["reader"]})
    call("PUT", "/_security/user/bob", {"password": "bob-password", "roles": ["reader"]})
    call("PUT", "/_security/user/svc", {"password": "svc-password", "roles": ["impersonator"]})


def test_run_as_takes_the_identity_and_roles_of_the_target(call: Call,
                                                           security: Security) -> None:
    user = security.authenticate({**basic("svc", "svc-password"), RUN_AS_HEADER: "alice"})
    security.authorize(user, SEARCH, ["docs"])
    assert security.dls_query(user, "docs") == {"term": {"acl": "alice"}}
    body = call("GET", "/_security/_authenticate", as_user=user)[1]
    assert body["username"] == "alice" and body["roles"] == ["reader"]
    assert body["authentication_realm"] == {"name": "default_native", "type": "native"}
    assert body["lookup_realm"] == {"name": "default_native", "type": "native"}


def test_the_superuser_may_run_as_anyone(security: Security) -> None:
    password = security.store.bootstrap_password
    user = security.authenticate({**basic("elastic", password), RUN_AS_HEADER: "bob"})
    security.authorize(user, SEARCH, ["docs"])
    assert user.username == "bob" and user.authenticating.username == "elastic"


def test_run_as_without_the_privilege_is_forbidden(security: Security) -> None:
    user = security.authenticate({**basic("svc", "svc-password"), RUN_AS_HEADER: "bob"})
    with pytest.raises(EngineError) as refused:
        security.authorize(user, SEARCH, ["docs"])
    assert refused.value.status == 403
    assert refused.value.reason == (
        "action [indices:data/read/search] is unauthorized for user [svc] with effective roles "
        "[impersonator], because user [svc] is unauthorized to run as [bob]")


def test_run_as_an_unknown_user_is_forbidden(security: Security) -> None:
    user = security.authenticate({**basic("svc", "svc-password"), RUN_AS_HEADER: "team-ghost"})
    with pytest.raises(EngineError) as refused:
        security.authorize(user, SEARCH, ["docs"])
    assert "is unauthorized to run as [team-ghost]" in refused.value.reason


def test_run_as_still_needs_valid_credentials(security: Security) -> None:
    with pytest.raises(EngineError) as refused:
        security.authenticate({**basic("svc", "wrong-password"), RUN_AS_HEADER: "alice"})
    assert refused.value.status == 401


def test_an_api_key_created_while_running_as_belongs_to_the_target(call: Call,
                                                                   security: Security) -> None:
    password = security.store.bootstrap_password
    as_alice = security.authenticate({**basic("elastic", password), RUN_AS_HEADER: "alice"})
    created = call("POST", "/_security/api_key", {"name": "alice-key"}, as_user=as_alice)[1]
    key_user = security.authenticate({"Authorization": f"ApiKey {created['encoded']}"})
    assert key_user.username == "alice"
    assert security.dls_query(key_user, "docs") == {"term": {"acl": "alice"}}
    with pytest.raises(EngineError):
        security.authorize(key_user, SEARCH, ["other"])


def test_a_service_grants_a_per_user_api_key_without_the_users_password(
        call: Call, security: Security) -> None:
    call("PUT", "/_security/role/granter", {"cluster": ["grant_api_key"], "run_as": ["bob"]})
    call("PUT", "/_security/user/granter", {"password": "granter-password", "roles": ["granter"]})
    granter = security.authenticate(basic("granter", "granter-password"))
    status, created = call("POST", "/_security/api_key/grant", {
        "grant_type": "password", "username": "granter", "password": "granter-password",
        "run_as": "bob", "api_key": {"name": "bob-search", "expiration": "1h"}}, as_user=granter)
    assert status == 200 and created["name"] == "bob-search"
    key_user = security.authenticate({"Authorization": f"ApiKey {created['encoded']}"})
    assert key_user.username == "bob"
    assert security.dls_query(key_user, "docs") == {"term": {"acl": "bob"}}
    with pytest.raises(EngineError) as refused:
        call("POST", "/_security/api_key/grant", {
            "grant_type": "password", "username": "granter", "password": "granter-password",
            "run_as": "alice", "api_key": {"name": "alice-search"}}, as_user=granter)
    assert "is unauthorized to run as [alice]" in refused.value.reason
