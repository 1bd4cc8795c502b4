"""An administrator manages native users; users log in with HTTP Basic and their password."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import Security

from .conftest import Call, basic


def test_admin_creates_a_user_who_can_then_log_in(call: Call, security: Security) -> None:
    status, body = call("PUT", "/_security/user/joe", {
        "password": "s3krit-password", "roles": ["superuser"], "full_name": "Bazooka Joe",
        "email": "joe@bazooka.gum", "metadata": {"key1": "val1"}})
    assert (status, body) == (200, {"created": True})

    joe = security.authenticate(basic("joe", "s3krit-password"))
    assert joe.username == "joe" and joe.roles == ("superuser",)

    status, body = call("GET", "/_security/user/joe")
    assert status == 200
    assert body == {"joe": {"username": "joe", "roles": ["superuser"], "full_name": "Bazooka Joe",
                            "email": "joe@bazooka.gum", "metadata": {"key1": "val1"},
                            "enabled": True}}
    assert "password" not in str(body) and "hash" not in str(body)


def test_a_wrong_password_is_refused_with_elasticsearchs_401(call: Call,
                                                             security: Security) -> None:
    call("PUT", "/_security/user/joe", {"password": "s3krit-password", "roles": []})
    with pytest.raises(EngineError) as refused:
        security.authenticate(basic("joe", "not-the-password"), uri="/_search")
    assert refused.value.status == 401
    assert refused.value.reason == "unable to authenticate user [joe] for REST request [/_search]"
    assert refused.value.headers["WWW-Authenticate"][0] == 'Basic realm="security", charset="UTF-8"'
    assert refused.value.body()["error"]["header"]["WWW-Authenticate"][2] == "ApiKey"


def test_updating_a_user_without_password_keeps_the_old_one(call: Call,
                                                            security: Security) -> None:
    call("PUT", "/_security/user/joe", {"password": "first-password", "roles": []})
    status, body = call("PUT", "/_security/user/joe", {"roles": ["viewer"], "full_name": "Joe"})
    assert (status, body) == (200, {"created": False})
    assert security.authenticate(basic("joe", "first-password")).roles == ("viewer",)


def test_changing_a_password_replaces_the_cached_credentials(call: Call,
                                                             security: Security) -> None:
    call("PUT", "/_security/user/joe", {"password": "first-password", "roles": []})
    joe = security.authenticate(basic("joe", "first-password"))
    assert call("PUT", "/_security/user/_password", {"password": "second-password"},
                as_user=joe) == (200, {})
    with pytest.raises(EngineError):
        security.authenticate(basic("joe", "first-password"))
    assert security.authenticate(basic("joe", "second-password")).username == "joe"


def test_a_disabled_or_deleted_user_cannot_log_in(call: Call, security: Security) -> None:
    call("PUT", "/_security/user/joe", {"password": "s3krit-password", "roles": []})
    security.authenticate(basic("joe", "s3krit-password"))
    assert call("PUT", "/_security/user/joe/_disable") == (200, {})
    with pytest.raises(EngineError):
        security.authenticate(basic("joe", "s3krit-password"))
    call("PUT", "/_security/user/joe/_enable")
    assert call("DELETE", "/_security/user/joe") == (200, {"found": True})
    with pytest.raises(EngineError):
        security.authenticate(basic("joe", "s3krit-password"))
    assert call("DELETE", "/_security/user/joe") == (404, {"found": False})
    assert call("GET", "/_security/user/joe") == (404, {})


def test_a_user_can_be_created_from_a_password_hash(call: Call, security: Security) -> None:
    from es_rag.engine.security.passwords import hash_password

    call("PUT", "/_security/user/joe", {"password_hash": hash_password("correct horse"),
                                        "roles": ["superuser"]})
    assert security.authenticate(basic("joe", "correct horse")).username == "joe"
    with pytest.raises(EngineError) as refused:
        call("PUT", "/_security/user/bob", {"password_hash": "not-a-hash", "roles": []})
    assert refused.value.status == 400 and "supported password hash" in refused.value.reason


@pytest.mark.parametrize(("body", "reason"), [
    ({"username": "joey", "password": "s3krit-password"}, "does not match the username"),
    ({"password": "short"}, "passwords must be at least [6] characters long"),
    ({"roles": []}, "password must be specified unless you are updating an existing user"),
    ({"password": "s3krit-password", "colour": "blue"}, "unexpected field [colour]"),
    ({"password": "s3krit-password", "metadata": {"_x": 1}}, "may not start with [_]"),
])
def test_bad_user_requests_are_refused_with_a_reason(call: Call, body: dict, reason: str) -> None:
    with pytest.raises(EngineError) as refused:
        call("PUT", "/_security/user/joe", body)
    assert refused.value.status == 400 and reason in refused.value.reason


def test_reserved_users_cannot_be_replaced_or_deleted(call: Call) -> None:
    for method, body in (("PUT", {"password": "s3krit-password"}), ("DELETE", None)):
        with pytest.raises(EngineError) as refused:
            call(method, "/_security/user/elastic", body)
        assert refused.value.status == 400 and "reserved" in refused.value.reason
    status, body = call("GET", "/_security/user")
    assert body["elastic"]["metadata"] == {"_reserved": True}


def test_a_user_without_manage_security_cannot_manage_users(call: Call,
                                                           security: Security) -> None:
    call("PUT", "/_security/user/joe", {"password": "s3krit-password", "roles": ["viewer"]})
    joe = security.authenticate(basic("joe", "s3krit-password"))
    with pytest.raises(EngineError) as refused:
        call("PUT", "/_security/user/eve", {"password": "s3krit-password"}, as_user=joe)
    assert refused.value.status == 403
    assert refused.value.reason == (
        "action [cluster:admin/xpack/security/user/put] is unauthorized for user [joe] with "
        "effective roles [viewer], this action is granted by the cluster privileges "
        "[manage_security,all]")


def test_security_endpoints_refuse_unknown_url_parameters_like_every_endpoint(call: Call
                                                                               ) -> None:
    with pytest.raises(EngineError) as refused:
        call("GET", "/_security/user/x", foo="1")
    assert refused.value.status == 400
    assert refused.value.reason == \
        "request [/_security/user/x] contains unrecognized parameter: [foo]"
    with pytest.raises(EngineError) as refused:
        call("GET", "/_security/api_key", owner="maybe")
    assert refused.value.reason == \
        "Failed to parse value [maybe] as only [true] or [false] are allowed."
