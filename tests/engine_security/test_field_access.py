"""What a reader under field-level security sees of a document and of a mapping, with the
union of a user's roles and the intersection of an API key with its owner, as in Elasticsearch."""

from __future__ import annotations

from es_rag.engine.security.fls import FieldAccess, FieldGroup

DOC = {"title": "q3 plan", "author": {"name": "ann", "email": "ann@example.com"},
       "comments": [{"by": "bob", "text": "ok"}, {"by": "cy", "text": "no"}],
       "salary": 10, "_meta_like": "kept"}


def _access(*parts: list[dict | None]) -> FieldAccess | None:
    return FieldAccess.combine([FieldGroup.of(d) for d in part] for part in parts)


def test_a_role_granting_some_fields_shows_only_those_and_drops_emptied_objects() -> None:
    access = _access([{"grant": ["title", "comments.by"]}])
    assert access is not None
    assert access.filter_source(DOC) == {"title": "q3 plan",
                                         "comments": [{"by": "bob"}, {"by": "cy"}],
                                         "_meta_like": "kept"}  # `_` names are metadata


def test_except_hides_a_sub_field_and_wildcards_match_paths() -> None:
    access = _access([{"grant": ["*"], "except": ["author.email", "sal*"]}])
    assert access is not None
    seen = access.filter_source(DOC)
    assert seen["author"] == {"name": "ann"} and "salary" not in seen
    assert access.allows("title") and not access.allows("author.email")


def test_two_roles_unite_and_a_role_without_field_security_shows_everything() -> None:
    united = _access([{"grant": ["title"]}, {"grant": ["salary"]}])
    assert united is not None and united.allows("title") and united.allows("salary")
    assert not united.allows("author.name")
    assert _access([{"grant": ["title"]}, None]) is None
    assert _access([{"grant": ["*"]}]) is None


def test_an_api_key_sees_what_both_it_and_its_owner_grant() -> None:
    key_and_owner = _access([{"grant": ["title", "salary"]}], [{"grant": ["*"],
                                                                "except": ["salary"]}])
    assert key_and_owner is not None
    assert key_and_owner.filter_source(DOC) == {"title": "q3 plan", "_meta_like": "kept"}


def test_a_mapping_loses_hidden_fields_and_hidden_multi_fields_become_objects() -> None:
    access = _access([{"grant": ["title", "author.*", "code.raw"], "except": ["author.email"]}])
    assert access is not None
    properties = {
        "title": {"type": "text"}, "salary": {"type": "long"},
        "author": {"properties": {"name": {"type": "keyword"}, "email": {"type": "keyword"}}},
        "code": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}
    assert access.filter_properties(properties) == {
        "title": {"type": "text"},
        "author": {"properties": {"name": {"type": "keyword"}}},
        "code": {"properties": {"raw": {"type": "keyword"}}}}
