"""`typed_keys` names aggregations by their result type; `completion` fields are mapped and
their inputs checked as Elasticsearch checks them."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def people(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="people", mappings={"properties": {
        "name": {"type": "keyword"}, "age": {"type": "integer"},
        "height": {"type": "float"}, "title": {"type": "completion"},
        "pets": {"type": "nested", "properties": {"kind": {"type": "keyword"}}}}})
    es.index(index="people", id="1", document={
        "name": "ruth", "age": 38, "height": 1.7, "title": "doctor",
        "pets": [{"kind": "cat"}]})
    es.index(index="people", id="2", document={
        "name": "jack", "age": 42, "height": 1.8,
        "title": {"input": ["commandant", "captain"], "weight": "7"}})
    es.indices.refresh(index="people")
    return es


def test_aggregation_names_carry_their_types(people: Elasticsearch) -> None:
    aggs = {"names": {"terms": {"field": "name"}, "aggs": {"oldest": {"max": {"field": "age"}}}},
            "ages": {"terms": {"field": "age"}}, "heights": {"terms": {"field": "height"}},
            "nowhere": {"terms": {"field": "unmapped"}},
            "pets": {"nested": {"path": "pets"}, "aggs": {"kinds": {"terms": {
                "field": "pets.kind"}}}},
            "total": {"sum_bucket": {"buckets_path": "names>_count"}}}
    resp = people.msearch(typed_keys=True, searches=[
        {"index": "people"}, {"size": 0, "aggs": aggs}])["responses"][0]
    result = resp["aggregations"]
    assert sorted(result) == ["dterms#heights", "lterms#ages", "nested#pets", "simple_value#total",
                              "sterms#names", "sterms#nowhere"]
    assert [b["max#oldest"]["value"] for b in result["sterms#names"]["buckets"]] == [42.0, 38.0]
    assert result["nested#pets"]["sterms#kinds"]["buckets"] == [{"key": "cat", "doc_count": 1}]
    # without typed_keys, the names as given
    plain = people.search(index="people", size=0, aggs=aggs)["aggregations"]
    assert sorted(plain) == ["ages", "heights", "names", "nowhere", "pets", "total"]


def test_completion_fields_are_mapped_and_their_inputs_checked(people: Elasticsearch) -> None:
    mapping = people.indices.get_mapping(index="people")["people"]["mappings"]
    assert mapping["properties"]["title"] == {
        "type": "completion", "analyzer": "simple", "preserve_separators": True,
        "preserve_position_increments": True, "max_input_length": 50}
    assert people.search(index="people", query={"exists": {"field": "title"}}
                         )["hits"]["total"]["value"] == 2
    for title, cause in [({"input": "x", "weight": 1.5},
                          "weight must be an integer, but was [1.5]"),
                         ({"input": "x", "weight": -1},
                          "weight must be in the interval [0..2147483647], but was [-1]"),
                         ({"input": 3}, "input must be a string or array, but was [VALUE_NUMBER]"),
                         ({"input": "x", "color": "red"}, "unknown field name [color]")]:
        with pytest.raises(BadRequestError) as err:
            people.index(index="people", document={"title": title})
        assert cause in str(err.value.body)
