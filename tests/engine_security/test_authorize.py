"""Requests are allowed by cluster and index privileges, with index name patterns, as in ES."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import REST_ACTIONS, AuthenticatedUser, Security, request_action

from .conftest import Call, basic


@pytest.fixture
def tess(call: Call, security: Security) -> AuthenticatedUser:
    call("PUT", "/_security/role/mixed_role", {
        "cluster": ["monitor", "manage_ingest_pipelines"],
        "indices": [
            {"names": ["only_read", "logs-*"], "privileges": ["read"]},
            {"names": ["only_index"], "privileges": ["index"]},
            {"names": ["/archive-[0-9]{4}/"], "privileges": ["read", "view_index_metadata"]},
            {"names": ["everything"], "privileges": ["all"]},
            {"names": ["drop-box"], "privileges": ["create_doc"]},
        ]})
    call("PUT", "/_security/user/tess", {"password": "tess-password",
                                         "roles": ["mixed_role", "ghost_role"]})
    return security.authenticate(basic("tess", "tess-password"))


@pytest.mark.parametrize(("api", "index"), [
    ("search", "only_read"), ("search", "logs-2024.01"), ("get", "archive-2023"),
    ("indices.get_mapping", "archive-2023"), ("index", "only_index"), ("update", "only_index"),
    ("create", "drop-box"), ("indices.delete", "everything"), ("search", "everything"),
])
def test_index_privileges_allow_their_actions(security: Security, tess: AuthenticatedUser,
                                              api: str, index: str) -> None:
    security.authorize(tess, REST_ACTIONS[api], [index])


@pytest.mark.parametrize(("api", "index"), [
    ("search", "only_index"), ("search", "logs"), ("search", "archive-20234"),
    ("index", "only_read"), ("delete", "only_index"), ("index", "drop-box"),
    ("indices.create", "only_read"),
])
def test_other_index_actions_are_forbidden(security: Security, tess: AuthenticatedUser,
                                           api: str, index: str) -> None:
    with pytest.raises(EngineError) as refused:
        security.authorize(tess, REST_ACTIONS[api], [index])
    assert refused.value.status == 403
    assert refused.value.error_type == "security_exception"


def test_the_403_names_the_action_the_roles_the_indices_and_the_privileges(
        security: Security, tess: AuthenticatedUser) -> None:
    with pytest.raises(EngineError) as refused:
        security.authorize(tess, "indices:data/read/search", ["only_read", "only_index", "secret"])
    assert refused.value.reason == (
        "action [indices:data/read/search] is unauthorized for user [tess] with effective roles "
        "[mixed_role] (assigned roles [ghost_role] were not found) on indices "
        "[only_index,secret], this action is granted by the index privileges [read,all]")
    assert refused.value.body()["status"] == 403


def test_cluster_privileges(security: Security, tess: AuthenticatedUser) -> None:
    security.authorize(tess, REST_ACTIONS["cluster.health"])
    security.authorize(tess, REST_ACTIONS["ingest.put_pipeline"])
    with pytest.raises(EngineError) as refused:
        security.authorize(tess, REST_ACTIONS["put_script"])
    assert refused.value.reason.endswith(
        "this action is granted by the cluster privileges [manage,all]")


def test_manage_does_not_include_security(call: Call, security: Security) -> None:
    call("PUT", "/_security/role/ops", {"cluster": ["manage"]})
    call("PUT", "/_security/user/ops", {"password": "ops-password", "roles": ["ops"]})
    ops = security.authenticate(basic("ops", "ops-password"))
    security.authorize(ops, REST_ACTIONS["ingest.put_pipeline"])
    with pytest.raises(EngineError):
        security.authorize(ops, "cluster:admin/xpack/security/role/put")


def test_wildcard_expansions_keep_only_authorized_indices(security: Security,
                                                          tess: AuthenticatedUser) -> None:
    every = ["only_read", "only_index", "logs-1", "secret", "everything"]
    visible = [i for i in every if security.is_authorized(tess, "indices:data/read/search", i)]
    assert visible == ["only_read", "logs-1", "everything"]


def test_composite_requests_need_the_action_on_some_index(call: Call,
                                                          security: Security) -> None:
    call("PUT", "/_security/role/writer", {"indices": [{"names": ["w"], "privileges": ["write"]}]})
    call("PUT", "/_security/user/wes", {"password": "wes-password", "roles": ["writer"]})
    wes = security.authenticate(basic("wes", "wes-password"))
    security.authorize(wes, REST_ACTIONS["bulk"])
    with pytest.raises(EngineError):
        security.authorize(wes, REST_ACTIONS["msearch"])


def test_the_superuser_may_do_anything(security: Security, elastic: AuthenticatedUser) -> None:
    for api in ("search", "indices.delete", "cluster.put_settings", "put_script"):
        security.authorize(elastic, REST_ACTIONS[api], ["any-index"])


def test_index_expressions_are_rewritten_to_the_authorized_names(
        security: Security, tess: AuthenticatedUser) -> None:
    existing = ["only_read", "only_index", "logs-1", "logs-2", "secret", "everything"]

    def expand(pattern: str) -> list[str]:
        return [n for n in existing if pattern in ("_all", "*") or n.startswith(pattern[:-1])]

    search = REST_ACTIONS["search"]
    assert security.authorized_names(tess, search, None, expand) == [
        "only_read", "logs-1", "logs-2", "everything"]
    assert security.authorized_names(tess, search, "logs-*,-logs-2,only_read", expand) == [
        "logs-1", "only_read"]
    assert security.authorized_names(tess, search, "secret*", expand) == []
    with pytest.raises(EngineError) as refused:
        security.authorized_names(tess, search, "logs-*,secret,only_index", expand)
    assert "on indices [secret,only_index]" in refused.value.reason


def test_a_user_without_any_read_privilege_cannot_search_everything(
        call: Call, security: Security) -> None:
    call("PUT", "/_security/user/nobody", {"password": "nobody-password", "roles": []})
    nobody = security.authenticate(basic("nobody", "nobody-password"))
    with pytest.raises(EngineError) as refused:
        security.authorized_names(nobody, REST_ACTIONS["search"], "*", lambda _: ["a"])
    assert refused.value.reason == (
        "action [indices:data/read/search] is unauthorized for user [nobody] with effective "
        "roles [], this action is granted by the index privileges [read,all]")


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/_search", ("indices:data/read/search", None, False)),
    ("POST", "/logs-*,docs/_search", ("indices:data/read/search", "logs-*,docs", False)),
    ("GET", "/docs/_doc/1", ("indices:data/read/get", "docs", False)),
    ("PUT", "/docs/_doc/1", ("indices:data/write/index:op_type/index", "docs", False)),
    ("POST", "/docs/_doc", ("indices:data/write/index:op_type/create", "docs", False)),
    ("POST", "/_bulk", ("indices:data/write/bulk", None, True)),
    ("POST", "/docs/_msearch", ("indices:data/read/msearch", "docs", True)),
    ("PUT", "/docs", ("indices:admin/create", "docs", False)),
    ("GET", "/_cluster/health", ("cluster:monitor/health", None, False)),
    ("PUT", "/_ingest/pipeline/p1", ("cluster:admin/ingest/pipeline/put", None, False)),
    ("GET", "/_ingest/pipeline/_simulate", ("cluster:admin/ingest/pipeline/simulate", None,
                                            False)),
])
def test_requests_are_mapped_to_elasticsearch_actions(method: str, path: str,
                                                      expected: tuple) -> None:
    found = request_action(method, path)
    assert found is not None
    assert (found.action, found.index, found.composite) == expected


def test_unknown_paths_have_no_action() -> None:
    assert request_action("GET", "/_security/_authenticate") is None
    assert request_action("PATCH", "/docs") is None


def test_wildcards_do_not_reach_the_security_index(call: Call, security: Security) -> None:
    call("PUT", "/_security/role/read_all", {"indices": [{"names": ["*"], "privileges": ["read"]}]})
    call("PUT", "/_security/user/rita", {"password": "rita-password", "roles": ["read_all"]})
    rita = security.authenticate(basic("rita", "rita-password"))
    security.authorize(rita, REST_ACTIONS["get"], ["anything"])
    with pytest.raises(EngineError):
        security.authorize(rita, REST_ACTIONS["get"], [".security-7"])


def test_legacy_templates_need_manage_index_templates(call: Call, security: Security,
                                                      tess: AuthenticatedUser) -> None:
    assert request_action("PUT", "/_template/logs").action == "indices:admin/template/put"
    assert request_action("HEAD", "/_template/logs").action == "indices:admin/template/get"
    assert request_action("DELETE", "/_template/logs").action == \
        "indices:admin/template/delete"
    security.authorize(tess, REST_ACTIONS["indices.get_template"])  # `monitor` reads them
    for api in ("indices.put_template", "indices.delete_template"):
        with pytest.raises(EngineError) as refused:
            security.authorize(tess, REST_ACTIONS[api])
        assert "manage_index_templates" in refused.value.reason
    call("PUT", "/_security/role/templates", {"cluster": ["manage_index_templates"]})
    call("PUT", "/_security/user/tim", {"password": "tim-password", "roles": ["templates"]})
    tim = security.authenticate(basic("tim", "tim-password"))
    security.authorize(tim, REST_ACTIONS["indices.put_template"])
    assert request_action("GET", "/logs/_field_caps").action == \
        "indices:data/read/field_caps"
