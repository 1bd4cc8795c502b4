"""The field capabilities API: a client learns each field's type and whether it can search and
aggregate on it across indices, and an `index_filter` leaves out the indices it cannot match."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import BadRequestError, Elasticsearch

SPARSE = {"service": "test_service",
          "service_settings": {"model": "my_model", "api_key": "abc64"}}


@pytest.fixture
def logs(es: Elasticsearch) -> Iterator[Elasticsearch]:
    """Three indices mapping `code` as keyword, long and (dynamically) text."""
    es.indices.create(index="logs-1", mappings={"properties": {
        "when": {"type": "date"}, "code": {"type": "keyword"},
        "user": {"properties": {"name": {"type": "keyword", "meta": {"unit": "none"}}}},
        "note": {"type": "text", "index": False}}})
    es.indices.create(index="logs-2", mappings={"properties": {
        "when": {"type": "date"}, "code": {"type": "long"},
        "note": {"type": "text"}}})
    es.index(index="logs-1", document={"when": "2015-01-02", "code": "404"})
    es.index(index="logs-1", document={"when": "2018-10-02", "code": "404"})
    es.index(index="logs-2", document={"when": "2020-03-04", "code": 200})
    es.index(index="logs-3", document={"when": "2022-01-01", "code": "500"})
    es.indices.refresh(index="logs-*")
    yield es


def test_types_are_merged_across_indices_and_conflicts_name_their_indices(
        logs: Elasticsearch) -> None:
    caps = logs.field_caps(index="logs-*", fields="*")
    assert caps["indices"] == ["logs-1", "logs-2", "logs-3"]
    code = caps["fields"]["code"]
    assert code["keyword"] == {"type": "keyword", "metadata_field": False, "searchable": True,
                               "aggregatable": True, "indices": ["logs-1"]}
    assert code["long"]["indices"] == ["logs-2"]
    assert code["text"] == {"type": "text", "metadata_field": False, "searchable": True,
                            "aggregatable": False, "indices": ["logs-3"]}
    assert caps["fields"]["code.keyword"] == {"keyword": {
        "type": "keyword", "metadata_field": False, "searchable": True, "aggregatable": True}}
    assert caps["fields"]["when"] == {"date": {
        "type": "date", "metadata_field": False, "searchable": True, "aggregatable": True}}
    note = caps["fields"]["note"]["text"]
    assert note["searchable"] is False and note["non_searchable_indices"] == ["logs-1"]
    assert caps["fields"]["user"] == {"object": {
        "type": "object", "metadata_field": False, "searchable": False, "aggregatable": False}}
    assert caps["fields"]["user.name"]["keyword"]["meta"] == {"unit": ["none"]}
    assert caps["fields"]["_id"]["_id"]["metadata_field"] is True


def test_fields_filters_types_and_unmapped(logs: Elasticsearch) -> None:
    named = logs.field_caps(index="logs-1", fields="user.name")["fields"]
    assert set(named) == {"user", "user.name"}  # the parent object comes with its field
    no_parent = logs.field_caps(index="logs-1", fields="user.name", filters="-parent")
    assert set(no_parent["fields"]) == {"user.name"}
    assert not any(n.startswith("_") for n in logs.field_caps(
        index="logs-1", fields="*", filters="-metadata")["fields"])
    assert all(n.startswith("_") for n in logs.field_caps(
        index="logs-1", fields="*", filters="+metadata")["fields"])
    keywords = logs.field_caps(index="logs-*", fields="*", types="keyword", filters="-metadata")
    assert set(keywords["fields"]) == {"code", "code.keyword", "user", "user.name"}
    unmapped = logs.field_caps(index="logs-*", fields="user.name", include_unmapped=True)
    assert unmapped["fields"]["user.name"]["unmapped"]["indices"] == ["logs-2", "logs-3"]
    with_values = logs.field_caps(index="logs-1", fields="*", filters="-metadata",
                                  include_empty_fields=False)
    assert set(with_values["fields"]) == {"when", "code"}
    body = logs.field_caps(index="logs-1", body={"fields": ["when"]})["fields"]
    assert set(body) == {"when"}
    with pytest.raises(BadRequestError) as err:
        logs.field_caps(index="logs-1")
    assert err.value.error == "action_request_validation_exception"
    assert "specified fields can't be null or empty" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        logs.perform_request("POST", "/logs-1/_field_caps", params={"fields": "*"},
                             headers={"content-type": "application/json"},
                             body={"fields": ["when"]})
    assert "either specify a request body or the [fields] request parameter" in str(err.value)


def test_an_index_filter_leaves_out_the_indices_it_cannot_match(logs: Elasticsearch) -> None:
    def indices(index_filter: dict) -> list[str]:
        return logs.field_caps(index="logs-*", fields="code",
                               index_filter=index_filter)["indices"]

    assert indices({"range": {"when": {"gte": "2019"}}}) == ["logs-2", "logs-3"]
    assert indices({"range": {"when": {"lt": "2019"}}}) == ["logs-1"]
    # a range between an index's lowest and highest values may match it (its values are
    # not searched), as Elasticsearch's rewrite decides from the field's min and max
    assert indices({"range": {"when": {"gte": "2016", "lte": "2017"}}}) == ["logs-1"]
    assert indices({"match_none": {}}) == []
    assert indices({"term": {"user.name": "ann"}}) == ["logs-1"]  # only logs-1 maps it
    assert indices({"bool": {"filter": [{"match_all": {}}, {"exists": {"field": "note"}}]}}) \
        == ["logs-1", "logs-2"]
    assert indices({"term": {"_index": "logs-3"}}) == ["logs-3"]
    filtered = logs.field_caps(index="logs-*", fields="code",
                               index_filter={"range": {"when": {"lt": "2019"}}})
    assert filtered["fields"]["code"] == {"keyword": {
        "type": "keyword", "metadata_field": False, "searchable": True, "aggregatable": True}}
    with pytest.raises(BadRequestError):
        logs.field_caps(index="logs-*", fields="*", index_filter={"no_such_query": {}})


def test_a_semantic_index_filter_keeps_the_indices_mapping_its_field(es: Elasticsearch
                                                                     ) -> None:
    es.inference.put(task_type="sparse_embedding", inference_id="sparse", inference_config=SPARSE)
    try:
        es.indices.create(index="semantic", mappings={"properties": {
            "body": {"type": "semantic_text", "inference_id": "sparse"}}})
        es.indices.create(index="plain", mappings={"properties": {"title": {"type": "text"}}})
        caps = es.field_caps(index="semantic,plain", fields="*", index_filter={
            "semantic": {"field": "body", "query": "moon"}})
        assert caps["indices"] == ["semantic"]
        assert caps["fields"]["body"]["text"]["searchable"] is True
    finally:
        es.indices.delete(index="semantic,plain")
        es.inference.delete(inference_id="sparse", force=True)
