"""An administrator defines roles; bad role definitions are refused the way Elasticsearch does."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import Security

from .conftest import Call


def test_a_role_is_stored_and_returned_in_elasticsearchs_shape(call: Call) -> None:
    status, body = call("PUT", "/_security/role/admin_role", {
        "cluster": ["all"], "metadata": {"key1": "val1"},
        "indices": [{"names": "*", "privileges": ["all"]}]})
    assert (status, body) == (200, {"role": {"created": True}})
    assert call("PUT", "/_security/role/admin_role", {"cluster": ["monitor"]}) == (
        200, {"role": {"created": False}})
    call("PUT", "/_security/role/admin_role", {
        "cluster": ["all"], "metadata": {"key1": "val1"},
        "indices": [{"names": "*", "privileges": ["all"], "query": {"term": {"acl": "a"}}}]})

    status, body = call("GET", "/_security/role/admin_role")
    assert status == 200
    assert body == {"admin_role": {
        "cluster": ["all"],
        "indices": [{"names": ["*"], "privileges": ["all"], "allow_restricted_indices": False,
                     "query": '{"term":{"acl":"a"}}'}],
        "applications": [], "run_as": [], "metadata": {"key1": "val1"},
        "transient_metadata": {"enabled": True}}}


def test_listing_and_deleting_roles(call: Call) -> None:
    call("PUT", "/_security/role/reader",
         {"indices": [{"names": ["docs"], "privileges": ["read"]}]})
    status, body = call("GET", "/_security/role")
    assert status == 200 and {"superuser", "reader"} <= body.keys()
    assert body["superuser"]["metadata"] == {"_reserved": True}
    assert call("DELETE", "/_security/role/reader") == (200, {"found": True})
    assert call("DELETE", "/_security/role/reader") == (404, {"found": False})
    assert call("GET", "/_security/role/reader") == (404, {})


def test_a_role_may_name_an_index_that_does_not_exist_yet(call: Call) -> None:
    # Elasticsearch accepts roles for indices created later (and patterns match them then)
    body = {"indices": [{"names": ["not-created-yet"], "privileges": ["read"]}]}
    assert call("PUT", "/_security/role/future", body)[0] == 200


@pytest.mark.parametrize(("role", "error_type", "reason"), [
    ({"indices": [{"names": ["a"], "privileges": ["read"],
                   "field_security": {"grant": ["title"], "except": ["body"]}}]},
     "parse_exception", "Exceptions for field permissions must be a subset of the granted "
                        "fields but body is not a subset of title"),
    ({"indices": [{"names": ["a"], "privileges": ["read"],
                   "field_security": {"except": ["body"]}}]},
     "parse_exception", "field_security requires grant if except is given"),
    ({"indices": [{"names": ["a"], "privileges": ["read"], "field_security": {}}]},
     "parse_exception", '"field_security" must not be empty.'),
    ({"indices": [{"names": ["a"], "privileges": ["read"],
                   "field_security": {"grant": ["a"], "deny": ["b"]}}]},
     "parse_exception", '"field_security" only accepts options grant and except, but got: deny'),
    ({"indices": [{"names": ["a"], "privileges": ["read"], "field_security": {"grant": "a"}}]},
     "parse_exception", "failed to parse role [bad]"),
    ({"global": {"application": {"manage": {"apps": ["x"]}}}}, "x_content_parse_exception",
     "expected field name [applications] but found [apps] instead"),
    ({"global": {"cluster": {}}}, "x_content_parse_exception",
     "expected one of [application, profile, role] but found [cluster] instead"),
    ({"indices": [{"privileges": ["read"]}]}, "parse_exception", "missing required [names] field"),
    ({"indices": [{"names": ["a"]}]}, "parse_exception", "missing required [privileges] field"),
    ({"indices": [{"names": ["a"], "privileges": ["reed"]}]}, "illegal_argument_exception",
     "unknown index privilege [reed]"),
    ({"cluster": ["monitorr"]}, "illegal_argument_exception",
     "unknown cluster privilege [monitorr]"),
    ({"clusters": ["all"]}, "parse_exception", "unexpected field [clusters]"),
    ({"indices": [{"names": ["a"], "privileges": ["read"], "query": '{"term": {"acl": '}]},
     "parse_exception",
     "failed to parse field 'query' for indices [a] at index privilege [0] of role descriptor"),
    ({"indices": [{"names": ["a"], "privileges": ["read"]},
                  {"names": ["b", "c"], "privileges": ["read"], "query": {"no_such_query": {}}}]},
     "parse_exception",
     "failed to parse field 'query' for indices [b,c] at index privilege [1] of role descriptor"),
    ({"indices": [{"names": ["a"], "privileges": ["read"],
                   "query": {"template": {"source": "{{#_user}}"}}}]},
     "parse_exception", "failed to parse field 'query' for indices [a] at index privilege [0]"),
    ({"metadata": {"_reserved": True}}, "action_request_validation_exception",
     "role metadata keys may not start with [_]"),
])
def test_bad_roles_are_refused_at_creation(call: Call, role: dict, error_type: str,
                                           reason: str) -> None:
    with pytest.raises(EngineError) as refused:
        call("PUT", "/_security/role/bad", role)
    assert refused.value.status == 400
    assert refused.value.error_type == error_type
    assert reason in refused.value.reason
    assert call("GET", "/_security/role/bad") == (404, {})


def test_a_templated_query_is_accepted_before_its_stored_script_exists(call: Call) -> None:
    role = {"indices": [{"names": ["a"], "privileges": ["read"],
                         "query": {"template": {"id": "created-later"}}}]}
    assert call("PUT", "/_security/role/stored", role)[0] == 200


def test_reserved_roles_cannot_be_changed(call: Call, security: Security) -> None:
    with pytest.raises(EngineError) as refused:
        call("PUT", "/_security/role/superuser", {"cluster": ["monitor"]})
    assert "Role [superuser] is reserved" in refused.value.reason
    with pytest.raises(EngineError):
        call("DELETE", "/_security/role/superuser")
    assert security.store.get_role("superuser")["cluster"] == ["all"]


def test_application_privileges_are_defined_listed_and_deleted(call: Call) -> None:
    body = {"myapp": {"read": {"actions": ["data:read/*"], "metadata": {"tier": 1}},
                      "write": {"application": "myapp", "name": "write",
                                "actions": ["data:write/*"]}}}
    assert call("PUT", "/_security/privilege", body) == (
        200, {"myapp": {"read": {"created": True}, "write": {"created": True}}})
    status, listed = call("GET", "/_security/privilege/myapp/read")
    assert listed == {"myapp": {"read": {"application": "myapp", "name": "read",
                                         "actions": ["data:read/*"], "metadata": {"tier": 1}}}}
    assert call("DELETE", "/_security/privilege/myapp/read,write") == (
        200, {"myapp": {"read": {"found": True}, "write": {"found": True}}})
    assert call("GET", "/_security/privilege/myapp") == (404, {})
    with pytest.raises(EngineError) as refused:
        call("PUT", "/_security/privilege", {"myapp": {"bad": {"actions": ["nothing"]}}})
    assert "must contain one of [/*:]" in refused.value.reason


LOOKUP = {"terms": {"acl": {"index": "acl-lists", "id": "secret", "path": "members"}}}


@pytest.mark.parametrize(("query", "reason"), [
    (LOOKUP, "terms query with terms lookup isn't supported as part of a role query"),
    ({"bool": {"filter": [{"term": {"a": 1}}, LOOKUP]}},
     "terms query with terms lookup isn't supported as part of a role query"),
    ({"geo_shape": {"area": {"indexed_shape": {"index": "shapes", "id": "1"}}}},
     "geoshape query referring to indexed shapes isn't supported as part of a role query"),
    ({"has_child": {"type": "chunk", "query": {"match_all": {}}}},
     "has_child query isn't supported as part of a role query"),
])
def test_a_role_query_reading_other_documents_is_refused_at_put_time(
        call: Call, query: dict, reason: str) -> None:
    """As Elasticsearch: a DLS query may not depend on documents the user might not read."""
    role = {"indices": [{"names": ["chunks"], "privileges": ["read"], "query": query}]}
    for path, body in (("/_security/role/lookup", role),
                       ("/_security/api_key", {"name": "k", "role_descriptors": {"r": role}})):
        with pytest.raises(EngineError) as refused:
            call("PUT" if "role/" in path else "POST", path, body)
        assert refused.value.status == 400
        assert refused.value.reason == ("failed to parse field 'query' for indices [chunks] at "
                                        "index privilege [0] of role descriptor")
        assert refused.value.extra["caused_by"] == {"type": "illegal_argument_exception",
                                                    "reason": reason}
    assert call("GET", "/_security/role/lookup") == (404, {})
