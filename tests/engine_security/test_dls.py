"""Given roles with DLS queries, a user's reads are narrowed to the documents they may see."""

from __future__ import annotations

import pytest

from es_rag.engine.errors import EngineError
from es_rag.engine.security import AuthenticatedUser, Security, restrict, restrict_filter

from .conftest import Call, api_key, basic

BY_NAME = {"template": {"source": {"term": {"acl": "{{_user.username}}"}}}}
BY_GROUP = {"template": {"source": '{"terms": {"acl": {{#toJson}}_user.metadata.groups'
                                   '{{/toJson}}}}'}}


def user(call: Call, security: Security, name: str, roles: list[str], **extra: object
         ) -> AuthenticatedUser:
    call("PUT", f"/_security/user/{name}", {"password": f"{name}-password", "roles": roles,
                                            **extra})
    return security.authenticate(basic(name, f"{name}-password"))


def role(call: Call, name: str, names: list[str], query: object = None,
         privileges: tuple[str, ...] = ("read",)) -> None:
    entry: dict = {"names": names, "privileges": list(privileges)}
    if query is not None:
        entry["query"] = query
    call("PUT", f"/_security/role/{name}", {"cluster": ["manage_own_api_key"], "indices": [entry]})


def test_a_templated_query_is_rendered_with_the_users_name(call: Call,
                                                           security: Security) -> None:
    role(call, "by_name", ["chunks*"], BY_NAME)
    alice = user(call, security, "alice", ["by_name"])
    assert security.dls_query(alice, "chunks-v1") == {"term": {"acl": "alice"}}


def test_a_templated_query_is_rendered_with_the_users_groups(call: Call,
                                                             security: Security) -> None:
    role(call, "by_group", ["chunks*"], BY_GROUP)
    bob = user(call, security, "bob", ["by_group"], metadata={"groups": ["eng", "o'hara \"q\""]})
    assert security.dls_query(bob, "chunks-v1") == {"terms": {"acl": ["eng", "o'hara \"q\""]}}


def test_a_stored_template_query_is_looked_up_by_id(call: Call, security: Security) -> None:
    role(call, "stored", ["chunks"], {"template": {"id": "acl-by-name"}})
    carol = user(call, security, "carol", ["stored"])
    assert security.dls_query(carol, "chunks") == {"term": {"acl": "carol"}}


def test_queries_of_several_roles_are_or_ed(call: Call, security: Security) -> None:
    role(call, "by_name", ["chunks"], BY_NAME)
    role(call, "by_group", ["chunks"], BY_GROUP)
    dan = user(call, security, "dan", ["by_name", "by_group"], metadata={"groups": ["eng"]})
    assert security.dls_query(dan, "chunks") == {"bool": {
        "should": [{"term": {"acl": "dan"}}, {"terms": {"acl": ["eng"]}}],
        "minimum_should_match": 1}}


def test_a_role_without_query_lifts_the_restriction(call: Call, security: Security) -> None:
    role(call, "by_name", ["chunks"], BY_NAME)
    role(call, "everything", ["chunks*"])
    admin = user(call, security, "admin", ["by_name", "everything"])
    assert security.dls_query(admin, "chunks") is None


def test_only_roles_granting_the_index_count(call: Call, security: Security) -> None:
    role(call, "by_name", ["chunks"], BY_NAME)
    role(call, "other_index", ["logs"])
    erin = user(call, security, "erin", ["by_name", "other_index"])
    assert security.dls_query(erin, "chunks") == {"term": {"acl": "erin"}}
    assert security.dls_query(erin, "logs") is None
    assert security.dls_query(erin, "unrelated") == {"match_none": {}}


def test_a_role_on_an_alias_applies_to_its_indices(call: Call, security: Security) -> None:
    role(call, "by_name", ["chunks"], BY_NAME)
    fay = user(call, security, "fay", ["by_name"])
    assert security.dls_query(fay, "chunks-v2", aliases=["chunks"]) == {"term": {"acl": "fay"}}


def test_an_api_key_is_restricted_by_both_its_descriptors_and_its_owner(
        call: Call, security: Security) -> None:
    role(call, "by_group", ["chunks"], BY_GROUP)
    gus = user(call, security, "gus", ["by_group"], metadata={"groups": ["eng"]})
    created = call("POST", "/_security/api_key", {"name": "gus-search", "role_descriptors": {
        "only_public": {"indices": [{"names": ["chunks"], "privileges": ["read"],
                                     "query": {"term": {"public": True}}}]}}}, as_user=gus)[1]
    key_user = security.authenticate(api_key(created["encoded"]))
    assert security.dls_query(key_user, "chunks") == {"bool": {"filter": [
        {"term": {"public": True}}, {"terms": {"acl": ["eng"]}}]}}
    plain = call("POST", "/_security/api_key", {"name": "gus-all"}, as_user=gus)[1]
    assert security.dls_query(security.authenticate(api_key(plain["encoded"])), "chunks") == {
        "terms": {"acl": ["eng"]}}


def test_a_template_that_renders_to_bad_json_fails_the_read(call: Call,
                                                            security: Security) -> None:
    unquoted = '{"term": {"acl": {{_user.username}}'
    role(call, "broken", ["chunks"], {"template": {"source": unquoted}})
    hal = user(call, security, "hal", ["broken"])
    with pytest.raises(EngineError) as failed:
        security.dls_query(hal, "chunks")
    assert failed.value.status == 400


def test_restrict_adds_the_dls_query_as_a_filter() -> None:
    dls = {"term": {"acl": "alice"}}
    assert restrict({"match": {"text": "x"}}, dls) == {
        "bool": {"must": [{"match": {"text": "x"}}], "filter": [dls]}}
    assert restrict(None, dls) == {"bool": {"must": [{"match_all": {}}], "filter": [dls]}}
    assert restrict({"match_all": {}}, None) == {"match_all": {}}
    assert restrict_filter(None, dls) == [dls]
    assert restrict_filter({"term": {"lang": "en"}}, dls) == [{"term": {"lang": "en"}}, dls]


def test_a_templated_query_rendering_to_a_terms_lookup_is_refused(call: Call,
                                                                  security: Security) -> None:
    lookup = {"template": {"source": '{"terms": {"acl": {"index": "lists", "id": '
                                     '"{{_user.username}}", "path": "acl"}}}'}}
    role(call, "lookup", ["chunks*"], lookup)
    alice = user(call, security, "alice", ["lookup"])
    with pytest.raises(EngineError) as refused:
        security.dls_query(alice, "chunks-v1")
    assert (refused.value.status, refused.value.reason) == (
        400, "terms query with terms lookup isn't supported as part of a role query")
