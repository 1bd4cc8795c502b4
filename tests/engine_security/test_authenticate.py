"""Requests without valid credentials get Elasticsearch's 401; the endpoints say who you are."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import (
    SYSTEM_INDEX_WARNING,
    WWW_AUTHENTICATE,
    AuthenticatedUser,
    Security,
)

from .conftest import Call, Clock, basic


def test_a_request_without_credentials_is_challenged(security: Security) -> None:
    with pytest.raises(EngineError) as refused:
        security.authenticate({"Content-Type": "application/json"}, uri="/_search?q=x")
    body = refused.value.body()
    assert body["status"] == 401
    assert body["error"]["type"] == "security_exception"
    assert body["error"]["reason"] == "missing authentication credentials for REST request " \
                                      "[/_search?q=x]"
    assert body["error"]["root_cause"][0]["header"] == {"WWW-Authenticate": WWW_AUTHENTICATE}
    assert refused.value.headers == {"WWW-Authenticate": WWW_AUTHENTICATE}


@pytest.mark.parametrize("authorization", [
    "Basic !!!not-base64", "Basic " + "bm8tY29sb24=", "Bearer not-a-token"])
def test_malformed_or_unsupported_credentials_are_refused(security: Security,
                                                          authorization: str) -> None:
    with pytest.raises(EngineError) as refused:
        security.authenticate({"authorization": authorization})
    assert refused.value.status == 401 and refused.value.headers


def test_credentials_without_base64_padding_are_accepted(call: Call,
                                                         security: Security) -> None:
    call("PUT", "/_security/user/inline_user", {"password": "x-pack-test-password", "roles": []})
    unpadded = basic("inline_user", "x-pack-test-password")["Authorization"].rstrip("=")
    assert unpadded != basic("inline_user", "x-pack-test-password")["Authorization"]
    assert security.authenticate({"Authorization": unpadded}).username == "inline_user"


def test_remembered_credentials_expire(call: Call, security: Security, clock: Clock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from es_rag.engine.security import authn

    call("PUT", "/_security/user/joe", {"password": "joe-password", "roles": []})
    checks: list[str] = []
    real_verify = authn.verify_password
    monkeypatch.setattr(authn, "verify_password",
                        lambda pw, stored: checks.append(pw) or real_verify(pw, stored))
    for _ in range(3):
        security.authenticate(basic("joe", "joe-password"))
    assert len(checks) == 1
    clock.now += authn.CACHE_TTL_SECONDS + 1
    security.authenticate(basic("joe", "joe-password"))
    assert len(checks) == 2


def test_elastic_authenticates_through_the_reserved_realm(call: Call) -> None:
    status, body = call("GET", "/_security/_authenticate")
    assert status == 200
    assert body["username"] == "elastic" and body["roles"] == ["superuser"]
    assert body["authentication_realm"] == {"name": "reserved", "type": "reserved"}
    assert body["authentication_type"] == "realm" and "api_key" not in body


def test_users_check_their_own_privileges_only(call: Call, security: Security) -> None:
    call("PUT", "/_security/role/reader", {
        "cluster": ["monitor"], "indices": [{"names": ["docs-*"], "privileges": ["read"]}]})
    call("PUT", "/_security/user/joe", {"password": "joe-password", "roles": ["reader"]})
    joe = security.authenticate(basic("joe", "joe-password"))
    status, body = call("GET", "/_security/user/joe/_has_privileges", {
        "cluster": ["monitor", "manage"],
        "index": [{"names": ["docs-1", "docs-*", "other"], "privileges": ["read", "write"]}]},
                        as_user=joe)
    assert body["cluster"] == {"monitor": True, "manage": False}
    assert body["index"] == {"docs-1": {"read": True, "write": False},
                             "docs-*": {"read": True, "write": False},
                             "other": {"read": False, "write": False}}
    assert body["has_all_requested"] is False and body["application"] == {}
    with pytest.raises(EngineError) as refused:
        call("GET", "/_security/user/elastic/_has_privileges", {"cluster": ["all"]}, as_user=joe)
    assert "users may only check the privileges of their own account" in refused.value.reason
    status, body = call("GET", "/_security/user/_privileges", as_user=joe)
    assert body["cluster"] == ["monitor"] and body["indices"][0]["names"] == ["docs-*"]


def test_an_unknown_method_on_a_security_path_is_a_405(call: Call) -> None:
    with pytest.raises(EngineError) as refused:
        call("PATCH", "/_security/role/reader")
    assert refused.value.status == 405 and "Incorrect HTTP method" in refused.value.reason


def test_superusers_can_read_a_users_security_document(call: Call, security: Security,
                                                       elastic: AuthenticatedUser) -> None:
    call("PUT", "/_security/user/bob", {"password": "correct horse", "roles": []})
    security.authorize(elastic, "indices:data/read/get", [".security"])
    document = security.security_document("user-bob")
    assert document["_index"] == ".security-7" and document["_source"]["username"] == "bob"
    call("PUT", "/_security/user/joe", {"password_hash": document["_source"]["password"],
                                        "roles": []})
    assert security.authenticate(basic("joe", "correct horse")).username == "joe"
    assert security.security_document("user-nobody") is None
    assert "system indices" in SYSTEM_INDEX_WARNING
