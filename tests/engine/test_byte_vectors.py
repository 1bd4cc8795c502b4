"""`byte` dense vectors written and queried as hex strings (two digits a dimension)."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def icons(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="icons", mappings={"properties": {
        "b": {"type": "dense_vector", "dims": 3, "element_type": "byte",
              "similarity": "l2_norm"},
        "f": {"type": "dense_vector", "dims": 3, "similarity": "l2_norm"}}})
    es.index(index="icons", id="1", document={"b": "807f0a"})   # [-128, 127, 10]
    es.index(index="icons", id="2", document={"b": [0, 1, 0]})
    es.index(index="icons", id="3", document={"b": "40f6e2"})   # [64, -10, -30]
    es.indices.refresh(index="icons")
    return es


def test_hex_documents_and_queries_are_signed_bytes(icons: Elasticsearch) -> None:
    def ranked(vector: object) -> list[str]:
        resp = icons.search(index="icons", knn={"field": "b", "query_vector": vector, "k": 3,
                                                "num_candidates": 10})
        return [h["_id"] for h in resp["hits"]["hits"]]

    assert ranked("400ae2") == ["3", "2", "1"]
    assert ranked([64, 10, -30]) == ranked("400ae2")
    assert ranked([-128, 127, 10])[0] == "1"
    # _source keeps what the client sent
    assert icons.get(index="icons", id="1")["_source"] == {"b": "807f0a"}


def test_a_float_vector_must_be_an_array(icons: Elasticsearch) -> None:
    with pytest.raises(BadRequestError, match="expecting token of type \\[START_ARRAY\\]"):
        icons.index(index="icons", id="4", document={"f": "807f0a"})


@pytest.mark.parametrize("vector, message", [
    ("400ae20a", "the query vector has a different dimension [4] than the index vectors [3]"),
    ("40af20a", "failed to parse field [query_vector]"),
])
def test_bad_hex_query_vectors(icons: Elasticsearch, vector: str, message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        icons.search(index="icons", query={"knn": {"field": "b", "query_vector": vector}})
    assert message in str(err.value.body)
