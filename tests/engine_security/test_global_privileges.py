"""An administrator gives roles global privileges and field security; users see them merged."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import SecurityError
from es_rag.engine.security import Security

from .conftest import Call, basic

_APP_ADMIN = {
    "cluster": ["monitor"],
    "global": {"application": {"manage": {"applications": ["kb-*"]}}},
    "indices": [{"names": ["docs-*"], "privileges": ["read"],
                 "field_security": {"grant": ["*"], "except": ["salary"]},
                 "query": {"term": {"team": "a"}}}],
    "applications": [{"application": "kb-app", "privileges": ["read"], "resources": ["r/1"]}],
}
_PROFILE_WRITER = {
    "cluster": ["manage"],
    "global": {"profile": {"write": {"applications": ["kb-app"]}}},
    "indices": [{"names": ["docs-*"], "privileges": ["read"],
                 "field_security": {"grant": ["title"]}, "query": {"term": {"team": "b"}}},
                {"names": ["logs"], "privileges": ["read"]}],
    "applications": [{"application": "kb-app", "privileges": ["read"], "resources": ["r/2"]},
                     {"application": "kb-app", "privileges": ["write"], "resources": ["r/1"]}],
}


def _user(call: Call, security: Security, name: str, roles: list[str]):
    call("PUT", f"/_security/user/{name}", {"password": "s3cret-pass", "roles": roles})
    return security.authenticate(basic(name, "s3cret-pass"))


def test_a_role_keeps_its_global_privileges_and_field_security(call: Call) -> None:
    assert call("PUT", "/_security/role/app_admin", _APP_ADMIN)[0] == 200
    status, body = call("GET", "/_security/role/app_admin")
    role = body["app_admin"]
    assert status == 200
    assert role["global"] == {"application": {"manage": {"applications": ["kb-*"]}},
                              "profile": {}, "role": {}}
    assert role["indices"][0]["field_security"] == {"grant": ["*"], "except": ["salary"]}


def test_a_user_of_two_roles_sees_them_merged_as_elasticsearch_merges_them(
        call: Call, security: Security) -> None:
    call("PUT", "/_security/role/app_admin", _APP_ADMIN)
    call("PUT", "/_security/role/profile_writer", _PROFILE_WRITER)
    both = _user(call, security, "both", ["app_admin", "profile_writer"])

    status, body = call("GET", "/_security/user/_privileges", as_user=both)
    assert status == 200
    assert body["cluster"] == ["manage", "monitor"]
    assert body["global"] == [{"application": {"manage": {"applications": ["kb-*"]}}},
                              {"profile": {"write": {"applications": ["kb-app"]}}}]
    docs = next(e for e in body["indices"] if e["names"] == ["docs-*"])
    assert docs["field_security"] == [{"grant": ["*"], "except": ["salary"]},
                                      {"grant": ["title"]}]
    assert docs["query"] == ['{"term":{"team":"a"}}', '{"term":{"team":"b"}}']
    assert {"names": ["logs"], "privileges": ["read"], "allow_restricted_indices": False} \
        in body["indices"]
    # same application and resources: privileges united; then same privileges: resources
    assert body["applications"] == [
        {"application": "kb-app", "privileges": ["read", "write"], "resources": ["r/1"]},
        {"application": "kb-app", "privileges": ["read"], "resources": ["r/2"]}]


def test_an_entry_without_field_security_or_query_lifts_them_in_the_merge(
        call: Call, security: Security) -> None:
    call("PUT", "/_security/role/app_admin", _APP_ADMIN)
    call("PUT", "/_security/role/open", {"indices": [{"names": ["docs-*"],
                                                      "privileges": ["read"]}]})
    user = _user(call, security, "open-user", ["app_admin", "open"])
    [docs] = call("GET", "/_security/user/_privileges", as_user=user)[1]["indices"]
    assert docs == {"names": ["docs-*"], "privileges": ["read"],
                    "allow_restricted_indices": False}


def test_global_application_manage_lets_a_user_manage_only_those_applications(
        call: Call, security: Security) -> None:
    call("PUT", "/_security/role/app_admin", _APP_ADMIN)
    admin = _user(call, security, "kb-admin", ["app_admin"])
    privilege = {"actions": ["data:read/*"]}
    assert call("PUT", "/_security/privilege", {"kb-app": {"read": privilege}},
                as_user=admin)[0] == 200
    assert call("GET", "/_security/privilege/kb-app", as_user=admin)[0] == 200
    with pytest.raises(SecurityError):
        call("PUT", "/_security/privilege", {"billing": {"read": privilege}}, as_user=admin)
    with pytest.raises(SecurityError):  # all applications: only with `*`
        call("GET", "/_security/privilege", as_user=admin)
