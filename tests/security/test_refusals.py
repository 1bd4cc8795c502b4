"""Bad credentials, missing privileges and malformed roles get clear refusals, never data."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, AuthorizationException, BadRequestError

from es_rag.config import Settings
from es_rag.connect import ConnectError, connect
from es_rag.retrieve import SearchError, SearchParams, search
from es_rag.retrieve.permissions import PermissionRefused
from es_rag.users import UserError, add_user, user_client

from .conftest import INDEX


def test_running_as_bob_without_the_run_as_privilege_is_refused_with_403(cluster) -> None:
    alice = cluster.login("alice")
    with pytest.raises(AuthorizationException) as refused:
        alice.options(headers={"es-security-runas-user": "bob"}).search(index=INDEX)
    assert refused.value.meta.status == 403
    with pytest.raises(UserError, match="refused to run requests as 'bob'") as error:
        user_client(alice, cluster.caps, "bob", strategy="run_as")
    assert error.value.status == 403


def test_a_wrong_password_is_a_clear_401(cluster) -> None:
    with pytest.raises(ConnectError, match=r"refused user 'alice' \(401\)"):
        connect(Settings(url=cluster.url, user="alice", password="not-her-password"))


def test_an_invalidated_api_key_is_refused(cluster) -> None:
    add_user(cluster.admin, "erin", "erin-password", groups=["eng"])
    as_erin = user_client(cluster.admin, cluster.caps, "erin", strategy="api_key")
    assert as_erin.count(index=INDEX)["count"] > 0
    cluster.admin.security.invalidate_api_key(name="es-rag-user-erin")
    with pytest.raises(SearchError, match=r"\(401\)"):
        search(as_erin, cluster.caps, INDEX, "roadmap", SearchParams(mode="bm25"))


def test_searching_as_an_unknown_user_is_refused_not_widened(cluster) -> None:
    with pytest.raises(PermissionRefused, match="no user named 'mallory'"):
        search(cluster.admin, cluster.caps, INDEX, "roadmap",
               SearchParams(mode="bm25"), as_user="mallory")


def test_a_role_with_a_malformed_dls_query_is_rejected_at_creation(cluster) -> None:
    with pytest.raises(BadRequestError) as rejected:
        cluster.admin.security.put_role(name="broken", indices=[{
            "names": [INDEX], "privileges": ["read"],
            "query": {"bool": {"must": {"no_such_query": {"acl": "x"}}}}}])
    assert rejected.value.meta.status == 400
    missing = cluster.admin.options(ignore_status=404).security.get_role(name="broken")
    assert missing.meta.status == 404


def test_adding_a_user_with_bad_input_names_the_problem(cluster) -> None:
    with pytest.raises(UserError, match="at least 6 characters"):
        add_user(cluster.admin, "frank", "short", groups=[])
    with pytest.raises(UserError, match="list of names"):
        add_user(cluster.admin, "frank", "frank-password", groups="eng")  # type: ignore[arg-type]
    with pytest.raises(ApiError):
        cluster.admin.security.get_user(username="frank")
