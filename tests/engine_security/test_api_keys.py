"""Users create API keys; a key can do no more than both its own descriptors and its owner."""

from __future__ import annotations

import base64

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import AuthenticatedUser, Security

from .conftest import Call, Clock, api_key, basic

SEARCH = "indices:data/read/search"


@pytest.fixture
def owner(call: Call, security: Security) -> AuthenticatedUser:
    call("PUT", "/_security/role/admin_role", {
        "cluster": ["manage_api_key"], "indices": [{"names": "*", "privileges": ["all"]}]})
    call("PUT", "/_security/user/api_key_user", {"password": "x-pack-test-password",
                                                 "roles": ["admin_role"]})
    return security.authenticate(basic("api_key_user", "x-pack-test-password"))


def create(call: Call, owner: AuthenticatedUser, **body: object) -> dict:
    status, created = call("POST", "/_security/api_key", {"name": "my-api-key", **body},
                           as_user=owner)
    assert status == 200
    return created


def test_a_created_key_authenticates_as_its_owner(call: Call, security: Security,
                                                  owner: AuthenticatedUser) -> None:
    created = create(call, owner, expiration="1d")
    assert created["encoded"] == base64.b64encode(
        f"{created['id']}:{created['api_key']}".encode()).decode()
    assert created["expiration"] == security.now_ms() + 86_400_000

    key_user = security.authenticate(api_key(created["encoded"]))
    status, body = call("GET", "/_security/_authenticate", as_user=key_user)
    assert body["username"] == "api_key_user" and body["roles"] == []
    assert body["authentication_realm"] == {"name": "_es_api_key", "type": "_es_api_key"}
    assert body["authentication_type"] == "api_key"
    assert body["api_key"]["id"] == created["id"] and body["api_key"]["name"] == "my-api-key"


def test_keys_are_listed_without_secrets(call: Call, owner: AuthenticatedUser) -> None:
    created = create(call, owner)
    status, body = call("GET", "/_security/api_key", as_user=owner, id=created["id"])
    assert status == 200
    (info,) = body["api_keys"]
    assert info["id"] == created["id"] and info["username"] == "api_key_user"
    assert info["invalidated"] is False and info["creation"] > 0 and "expiration" not in info
    assert created["api_key"] not in str(body)
    assert len(call("GET", "/_security/api_key", as_user=owner, owner="true")[1]["api_keys"]) == 1


def test_an_invalidated_key_is_refused(call: Call, security: Security,
                                       owner: AuthenticatedUser) -> None:
    first, second = create(call, owner), create(call, owner, name="other")
    security.authenticate(api_key(first["encoded"]))
    status, body = call("DELETE", "/_security/api_key", {"ids": [first["id"], second["id"]]},
                        as_user=owner)
    assert sorted(body["invalidated_api_keys"]) == sorted([first["id"], second["id"]])
    assert body["previously_invalidated_api_keys"] == [] and body["error_count"] == 0
    with pytest.raises(EngineError) as refused:
        security.authenticate(api_key(first["encoded"]))
    assert refused.value.status == 401
    assert refused.value.extra["additional_unsuccessful_credentials"] == (
        f"API key: api key [{first['id']}] has been invalidated")
    again = call("DELETE", "/_security/api_key", {"ids": [first["id"]]}, as_user=owner)[1]
    assert again["previously_invalidated_api_keys"] == [first["id"]]


def test_an_expired_key_is_refused(call: Call, security: Security, owner: AuthenticatedUser,
                                   clock: Clock) -> None:
    created = create(call, owner, expiration="30m")
    security.authenticate(api_key(created["encoded"]))
    clock.now += 31 * 60
    with pytest.raises(EngineError) as refused:
        security.authenticate(api_key(created["encoded"]))
    reason = refused.value.extra["additional_unsuccessful_credentials"]
    assert reason == "API key: api key is expired"


def test_a_wrong_or_unknown_key_is_refused(call: Call, security: Security,
                                           owner: AuthenticatedUser) -> None:
    created = create(call, owner)
    forged = base64.b64encode(f"{created['id']}:wrong-secret".encode()).decode()
    unknown = base64.b64encode(b"nope:secret").decode()
    for encoded in (forged, unknown, "%%%"):
        with pytest.raises(EngineError) as refused:
            security.authenticate(api_key(encoded))
        assert refused.value.status == 401
        assert refused.value.reason.startswith("unable to authenticate with provided credentials")


def test_bad_create_requests_are_refused(call: Call, owner: AuthenticatedUser) -> None:
    for body, reason in (({"name": ""}, "api key name is required"),
                         ({"expiration": "1 fortnight"}, "unit is missing or unrecognized"),
                         ({"role_descriptors": {"r": {"index": [{"names": ["a"]}]}}},
                          "missing required [privileges] field")):
        with pytest.raises(EngineError) as refused:
            call("POST", "/_security/api_key", {"name": "k", **body}, as_user=owner)
        assert refused.value.status == 400 and reason in refused.value.reason


def test_a_key_gets_the_intersection_of_its_descriptors_and_its_owner(
        call: Call, security: Security) -> None:
    call("PUT", "/_security/role/owner_role", {
        "cluster": ["manage_own_api_key"],
        "indices": [{"names": ["index-a", "index-b"], "privileges": ["read"]}]})
    call("PUT", "/_security/user/owner", {"password": "owner-password", "roles": ["owner_role"]})
    owner = security.authenticate(basic("owner", "owner-password"))
    created = create(call, owner, role_descriptors={
        "r": {"cluster": ["all"], "index": [{"names": ["index-a", "index-c"],
                                             "privileges": ["all"]}]}})
    key_user = security.authenticate(api_key(created["encoded"]))

    security.authorize(key_user, SEARCH, ["index-a"])
    for index in ("index-b", "index-c"):  # only the owner / only the key grants it
        with pytest.raises(EngineError) as refused:
            security.authorize(key_user, SEARCH, [index])
        assert refused.value.reason == (
            f"action [{SEARCH}] is unauthorized for API key id [{created['id']}] of user "
            f"[owner] on indices [{index}], this action is granted by the index privileges "
            "[read,all]")
    with pytest.raises(EngineError):  # the key may write, its owner may not
        security.authorize(key_user, "indices:data/write/index:op_type/index", ["index-a"])
    with pytest.raises(EngineError):  # "all" cluster in the key, none for the owner
        security.authorize(key_user, "cluster:monitor/health")


def test_a_key_without_descriptors_has_its_owners_access_as_at_creation(
        call: Call, security: Security, owner: AuthenticatedUser) -> None:
    created = create(call, owner)
    call("PUT", "/_security/role/admin_role", {"indices": []})  # owner loses access later
    key_user = security.authenticate(api_key(created["encoded"]))
    security.authorize(key_user, SEARCH, ["anything"])


def test_has_privileges_for_an_api_key(call: Call, security: Security,
                                       owner: AuthenticatedUser) -> None:
    call("PUT", "/_security/role/admin_role", {
        "cluster": ["manage_api_key"], "indices": [{"names": "*", "privileges": ["all"]}],
        "applications": [{"application": "myapp", "privileges": ["*"], "resources": ["*"]}]})
    call("PUT", "/_security/privilege", {"myapp": {
        "read": {"actions": ["data:read/*"]}, "write": {"actions": ["data:write/*"]}}})
    owner = security.authenticate(basic("api_key_user", "x-pack-test-password"))
    created = create(call, owner, role_descriptors={
        "role-a": {"cluster": ["all"], "index": [{"names": ["index-a"], "privileges": ["read"]}],
                   "applications": [{"application": "myapp", "privileges": ["read"],
                                     "resources": ["*"]}]},
        "role-b": {"cluster": ["manage"], "index": [{"names": ["index-b"],
                                                     "privileges": ["all"]}]}})
    key_user = security.authenticate(api_key(created["encoded"]))
    status, body = call("POST", "/_security/user/_has_privileges", {
        "cluster": ["manage_api_key"],
        "index": [{"names": ["*", "index-a"], "privileges": ["read", "index", "write"]},
                  {"names": ["index-a", "index-b"], "privileges": ["read", "write"]}],
        "application": [{"application": "myapp", "resources": ["*", "some-other-res"],
                         "privileges": ["data:read/me", "data:write/me"]}]}, as_user=key_user)
    assert status == 200
    assert body == {
        "username": "api_key_user", "has_all_requested": False,
        "cluster": {"manage_api_key": True},
        "index": {"*": {"read": False, "index": False, "write": False},
                  "index-a": {"read": True, "index": False, "write": False},
                  "index-b": {"read": True, "write": True}},
        "application": {"myapp": {
            "*": {"data:read/me": True, "data:write/me": False},
            "some-other-res": {"data:read/me": True, "data:write/me": False}}}}


def test_a_user_with_manage_own_api_key_sees_only_their_keys(
        call: Call, security: Security, owner: AuthenticatedUser) -> None:
    create(call, owner)
    call("PUT", "/_security/role/own_keys", {"cluster": ["manage_own_api_key"]})
    call("PUT", "/_security/user/carol", {"password": "carol-password", "roles": ["own_keys"]})
    carol = security.authenticate(basic("carol", "carol-password"))
    mine = create(call, carol, name="carols")
    listed = call("GET", "/_security/api_key", as_user=carol)[1]["api_keys"]
    assert [k["id"] for k in listed] == [mine["id"]]
    assert len(call("GET", "/_security/api_key")[1]["api_keys"]) == 2  # elastic sees all
    invalidated = call("DELETE", "/_security/api_key", {"name": "*"}, as_user=carol)[1]
    assert invalidated["invalidated_api_keys"] == [mine["id"]]
