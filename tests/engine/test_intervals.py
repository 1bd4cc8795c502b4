"""The `intervals` query: proximity and order of terms, rule combinations and filters."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch

TEXTS = {
    "1": "the support team answered within one hour",
    "2": "one hour later the team support replied",
    "3": "team leads support the on call rota",
    "4": "a big bad outage, then a big outage",
}


@pytest.fixture
def notes(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="notes", mappings={"properties": {
        "text": {"type": "text"}, "tags": {"type": "text"}, "code": {"type": "keyword"}}})
    for doc_id, text in TEXTS.items():
        es.index(index="notes", id=doc_id, document={"text": text, "code": doc_id})
    es.index(index="notes", id="5", document={"tags": ["red support", "team blue"]})
    es.indices.refresh(index="notes")
    return es


def _ids(es: Elasticsearch, rule: dict, field: str = "text") -> list[str]:
    resp = es.search(index="notes", query={"intervals": {field: rule}})
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_match_ordered_unordered_and_gaps(notes: Elasticsearch) -> None:
    assert sorted(_ids(notes, {"match": {"query": "support team"}})) == ["1", "2", "3"]
    assert sorted(_ids(notes, {"match": {"query": "support team", "ordered": True}})) == ["1"]
    assert sorted(_ids(notes, {"match": {"query": "team support", "max_gaps": 0}})) == \
        ["1", "2"]
    # "team leads support": one position between them
    assert _ids(notes, {"match": {"query": "team support", "ordered": True,
                                  "max_gaps": 1}}) == ["2", "3"]


def test_tighter_intervals_score_higher(notes: Elasticsearch) -> None:
    resp = notes.search(index="notes", query={"intervals": {"text": {
        "match": {"query": "team support", "ordered": True}}}})
    scores = {h["_id"]: h["_score"] for h in resp["hits"]["hits"]}
    # one interval of width 2 (freq 1/2) and one of width 3 (freq 1/3): freq / (freq + 1)
    assert scores["2"] == pytest.approx((1 / 2) / (1 / 2 + 1))
    assert scores["3"] == pytest.approx((1 / 3) / (1 / 3 + 1))


def test_all_of_with_a_disjunction_tries_every_alternative(notes: Elasticsearch) -> None:
    rule = {"all_of": {"ordered": True, "max_gaps": 0, "intervals": [
        {"any_of": {"intervals": [{"match": {"query": "big"}},
                                  {"match": {"query": "big bad"}}]}},
        {"match": {"query": "outage"}}]}}
    assert _ids(notes, rule) == ["4"]


@pytest.mark.parametrize("leaf, expected", [
    ({"prefix": {"prefix": "Supp"}}, ["1", "2", "3"]),
    ({"wildcard": {"pattern": "s*rt"}}, ["1", "2", "3"]),
    ({"fuzzy": {"term": "suport"}}, ["1", "2", "3"]),
    ({"regexp": {"pattern": "rep.*"}}, ["2"]),
    ({"range": {"gte": "rep", "lt": "rer"}}, ["2"]),
])
def test_term_pattern_rules(notes: Elasticsearch, leaf: dict, expected: list[str]) -> None:
    assert sorted(_ids(notes, leaf)) == expected


def test_filters_relate_intervals_to_other_intervals(notes: Elasticsearch) -> None:
    def with_filter(kind: str, other: dict) -> list[str]:
        return sorted(_ids(notes, {"match": {"query": "support", "filter": {kind: other}}}))

    team = {"match": {"query": "team"}}
    assert with_filter("before", team) == ["1"]
    assert with_filter("after", team) == ["2", "3"]
    team_replied = {"all_of": {"ordered": True, "intervals": [
        team, {"match": {"query": "replied"}}]}}
    assert with_filter("contained_by", team_replied) == ["2"]
    assert with_filter("not_contained_by", team_replied) == ["1", "3"]


def test_array_values_are_a_position_gap_apart(notes: Elasticsearch) -> None:
    assert _ids(notes, {"match": {"query": "support team"}}, field="tags") == ["5"]
    assert _ids(notes, {"match": {"query": "support team", "max_gaps": 10}},
                field="tags") == []


@pytest.mark.parametrize("field, rule, message", [
    ("code", {"match": {"query": "1"}}, "Can only use interval queries on text fields"),
    ("text", {"near": {"query": "x"}}, "Unknown interval type [near]"),
    ("text", {"match": {"query": "x", "slop": 2}}, "[match] unknown field [slop]"),
])
def test_bad_rules_are_refused(notes: Elasticsearch, field: str, rule: dict,
                               message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        notes.search(index="notes", query={"intervals": {field: rule}})
    assert message in str(err.value)


def test_capabilities_report_regexp_and_range_rules(notes: Elasticsearch) -> None:
    def supported(capabilities: str, path: str = "/_search") -> bool:
        return notes.perform_request("GET", "/_capabilities", params={
            "method": "POST", "path": path, "capabilities": capabilities}).body["supported"]

    assert supported("range_regexp_interval_queries") is True
    assert supported("range_regexp_interval_queries,teleportation") is False
    assert supported("range_regexp_interval_queries", path="/_bulk") is False
