"""Terms lookup: `terms: {field: {index, id, path}}` reads its values from another document."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError


@pytest.fixture
def people(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="people", settings={"index.max_terms_count": 3},
                      mappings={"properties": {"user": {"type": "keyword"}}})
    for user in ("u1", "u2", "u3", "u4", "u5"):
        es.index(index="people", id=user, document={"user": user})
    es.index(index="groups", id="g1", document={"team": {"members": [
        {"name": "u1"}, {"name": "u3"}]}, "flat": ["u2", "u4"]})
    es.index(index="groups", id="big", document={"flat": ["u1", "u2", "u3", "u4"]})
    es.indices.refresh(index="people")
    return es


def _ids(es: Elasticsearch, lookup: dict[str, str]) -> list[str]:
    resp = es.search(index="people", query={"terms": {"user": lookup}}, sort=["user"])
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_values_come_from_the_looked_up_document(people: Elasticsearch) -> None:
    # the groups index is not refreshed: the lookup is a real-time get
    assert _ids(people, {"index": "groups", "id": "g1", "path": "flat"}) == ["u2", "u4"]
    assert _ids(people, {"index": "groups", "id": "g1", "path": "team.members.name"}) == \
        ["u1", "u3"]
    assert _ids(people, {"index": "groups", "id": "nobody", "path": "flat"}) == []
    assert _ids(people, {"index": "groups", "id": "g1", "path": "missing"}) == []
    count = people.count(index="people", query={"terms": {"user": {
        "index": "groups", "id": "g1", "path": "flat"}}})
    assert count["count"] == 2


def test_looked_up_values_count_against_max_terms_count(people: Elasticsearch) -> None:
    with pytest.raises(BadRequestError, match=r"number of terms \[4\]"):
        _ids(people, {"index": "groups", "id": "big", "path": "flat"})


@pytest.mark.parametrize("lookup, message", [
    ({"index": "groups", "id": "g1"}, "requires specifying the path"),
    ({"index": "groups", "path": "flat"}, "requires specifying the id"),
    ({"index": "groups", "id": "g1", "path": "flat", "type": "x"},
     "does not support [type] within lookup element"),
])
def test_malformed_lookups_are_refused(people: Elasticsearch, lookup: dict[str, str],
                                       message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        _ids(people, lookup)
    assert message in str(err.value.body)


def test_a_missing_lookup_index_is_not_found(people: Elasticsearch) -> None:
    with pytest.raises(NotFoundError, match="index_not_found_exception"):
        _ids(people, {"index": "nowhere", "id": "g1", "path": "flat"})
