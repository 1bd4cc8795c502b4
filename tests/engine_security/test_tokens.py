"""OAuth2 bearer tokens: a user gets a token, requests run as that user until it expires or is
invalidated; refresh tokens are used once."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import Security

from .conftest import Call, Clock, basic


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def alice(call: Call) -> None:
    call("PUT", "/_security/role/token_maker", {"cluster": ["manage_token"]})
    call("PUT", "/_security/user/alice", {"password": "alice-password", "roles": ["token_maker"],
                                          "full_name": "Alice"})


def test_client_credentials_token_authenticates_as_the_caller(call: Call,
                                                              security: Security) -> None:
    status, created = call("POST", "/_security/oauth2/token",
                           {"grant_type": "client_credentials"})
    assert status == 200
    assert created["type"] == "Bearer" and created["expires_in"] == 1200
    assert "refresh_token" not in created
    assert created["authentication"]["authentication_type"] == "token"
    user = security.authenticate(bearer(created["access_token"]))
    who = call("GET", "/_security/_authenticate", as_user=user)[1]
    assert who["username"] == "elastic" and who["authentication_type"] == "token"
    assert who["authentication_realm"]["name"] == "reserved"


def test_password_grant_refresh_and_invalidate(call: Call, security: Security,
                                               alice: None) -> None:
    created = call("POST", "/_security/oauth2/token", {
        "grant_type": "password", "username": "alice", "password": "alice-password"})[1]
    assert security.authenticate(bearer(created["access_token"])).username == "alice"

    renewed = call("POST", "/_security/oauth2/token", {
        "grant_type": "refresh_token", "refresh_token": created["refresh_token"]})[1]
    assert security.authenticate(bearer(renewed["access_token"])).full_name == "Alice"
    with pytest.raises(EngineError, match="could not refresh"):  # a refresh token works once
        call("POST", "/_security/oauth2/token", {
            "grant_type": "refresh_token", "refresh_token": created["refresh_token"]})
    with pytest.raises(EngineError) as refused:  # the refreshed access token is revoked
        security.authenticate(bearer(created["access_token"]))
    assert refused.value.status == 401

    status, result = call("DELETE", "/_security/oauth2/token", {"username": "alice"})
    assert (status, result["invalidated_tokens"]) == (200, 1)
    with pytest.raises(EngineError):
        security.authenticate(bearer(renewed["access_token"]))
    status, result = call("DELETE", "/_security/oauth2/token", {"token": "unknown"})
    assert (status, result["invalidated_tokens"]) == (404, 0)


def test_tokens_expire_and_end_with_their_user(call: Call, security: Security, clock: Clock,
                                               alice: None) -> None:
    token = call("POST", "/_security/oauth2/token", {
        "grant_type": "password", "username": "alice", "password": "alice-password"}
                 )[1]["access_token"]
    clock.now += 19 * 60
    assert security.authenticate(bearer(token)).username == "alice"
    clock.now += 2 * 60
    with pytest.raises(EngineError, match="unable to authenticate") as expired:
        security.authenticate(bearer(token))
    assert expired.value.status == 401
    fresh = call("POST", "/_security/oauth2/token", {
        "grant_type": "password", "username": "alice", "password": "alice-password"}
                 )[1]["access_token"]
    call("PUT", "/_security/user/alice/_disable")
    with pytest.raises(EngineError):
        security.authenticate(bearer(fresh))


def test_token_requests_are_validated_and_authorized(call: Call, security: Security,
                                                     alice: None) -> None:
    with pytest.raises(EngineError, match="1: username is missing;2: password is missing;"):
        call("POST", "/_security/oauth2/token", {"grant_type": "password"})
    with pytest.raises(EngineError, match=r"grant_type \[implicit\] is not supported"):
        call("POST", "/_security/oauth2/token", {"grant_type": "implicit"})
    with pytest.raises(EngineError, match="unable to authenticate user"):
        call("POST", "/_security/oauth2/token", {
            "grant_type": "password", "username": "alice", "password": "wrong"})
    call("PUT", "/_security/user/bob", {"password": "bob-password", "roles": []})
    bob = security.authenticate(basic("bob", "bob-password"))
    with pytest.raises(EngineError) as refused:
        call("POST", "/_security/oauth2/token", {"grant_type": "client_credentials"},
             as_user=bob)
    assert refused.value.status == 403
