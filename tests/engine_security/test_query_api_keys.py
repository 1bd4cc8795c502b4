"""Finding API keys with `_query/api_key` (query DSL subset, sort, paging), and who may see a
key's limited-by role descriptors."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import AuthenticatedUser, Security

from .conftest import Call, Clock, api_key, basic


@pytest.fixture
def keys(call: Call, security: Security, clock: Clock) -> dict[str, dict]:
    """Three keys of an admin (manage_api_key) and one of carol (manage_own_api_key)."""
    call("PUT", "/_security/role/admin_role", {"cluster": ["manage_api_key"]})
    call("PUT", "/_security/role/own_keys", {"cluster": ["manage_own_api_key"]})
    call("PUT", "/_security/user/admin", {"password": "admin-password", "roles": ["admin_role"]})
    call("PUT", "/_security/user/carol", {"password": "carol-password", "roles": ["own_keys"]})
    made = {}
    for user, name, metadata in (("admin", "ingest-1", {"team": "search"}),
                                 ("admin", "ingest-2", {"team": "ops"}),
                                 ("admin", "reader", {}), ("carol", "carols", {})):
        clock.now += 1
        owner = security.authenticate(basic(user, f"{user}-password"))
        status, made[name] = call("POST", "/_security/api_key",
                                  {"name": name, "metadata": metadata}, as_user=owner)
        assert status == 200
    return made


def user(security: Security, name: str) -> AuthenticatedUser:
    return security.authenticate(basic(name, f"{name}-password"))


def test_query_filters_sorts_and_pages(call: Call, security: Security,
                                       keys: dict[str, dict]) -> None:
    admin = user(security, "admin")
    status, found = call("POST", "/_security/_query/api_key", {
        "query": {"bool": {"must": [{"prefix": {"name": "ingest"}}],
                           "must_not": [{"term": {"metadata.team": "ops"}}]}}}, as_user=admin)
    assert status == 200
    assert (found["total"], found["count"]) == (1, 1)
    assert found["api_keys"][0]["name"] == "ingest-1"
    assert "limited_by" not in found["api_keys"][0]

    status, page = call("POST", "/_security/_query/api_key", {
        "sort": [{"creation": {"order": "desc"}}], "size": 2}, as_user=admin)
    assert page["total"] == 4 and [k["name"] for k in page["api_keys"]] == ["carols", "reader"]
    after = page["api_keys"][-1]["_sort"]
    rest = call("POST", "/_security/_query/api_key", {
        "sort": [{"creation": {"order": "desc"}}], "search_after": after}, as_user=admin)[1]
    assert [k["name"] for k in rest["api_keys"]] == ["ingest-2", "ingest-1"]


def test_without_manage_api_key_only_own_keys_are_found(call: Call, security: Security,
                                                        keys: dict[str, dict]) -> None:
    found = call("POST", "/_security/_query/api_key", {"sort": ["name"]},
                 as_user=user(security, "carol"))[1]
    assert [k["name"] for k in found["api_keys"]] == ["carols"]


def test_unsupported_queries_and_fields_are_refused(call: Call, keys: dict[str, dict]) -> None:
    with pytest.raises(EngineError, match=r"Field \[api_key_hash\] is not allowed for "
                                          r"querying or aggregation"):
        call("POST", "/_security/_query/api_key", {"query": {"term": {"api_key_hash": "x"}}})
    with pytest.raises(EngineError, match=r"Query type \[fuzzy\] is not supported for API Key "
                                          r"query"):
        call("POST", "/_security/_query/api_key", {"query": {"fuzzy": {"name": "x"}}})


def test_a_key_sees_its_limited_by_only_with_manage_api_key(
        call: Call, security: Security, keys: dict[str, dict]) -> None:
    carols = security.authenticate(api_key(keys["carols"]["encoded"]))
    with pytest.raises(EngineError) as refused:
        call("GET", "/_security/api_key", as_user=carols, id=keys["carols"]["id"],
             with_limited_by="true")
    assert refused.value.status == 403
    with pytest.raises(EngineError):
        call("POST", "/_security/_query/api_key", {}, as_user=carols, with_limited_by="true")
    # without limited-by, the key may look at itself
    own = call("GET", "/_security/api_key", as_user=carols, id=keys["carols"]["id"])[1]
    assert [k["name"] for k in own["api_keys"]] == ["carols"]
    # a key inheriting manage_api_key may
    reader = security.authenticate(api_key(keys["reader"]["encoded"]))
    seen = call("GET", "/_security/api_key", as_user=reader, id=keys["reader"]["id"],
                with_limited_by="true")[1]
    assert seen["api_keys"][0]["limited_by"] == [{"admin_role": {
        "cluster": ["manage_api_key"], "indices": [], "applications": [], "run_as": [],
        "metadata": {}, "transient_metadata": {"enabled": True}}}]
