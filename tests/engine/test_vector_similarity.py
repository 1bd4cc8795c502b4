"""The `vector_similarity` query: nearest neighbours kept only within a similarity threshold."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def photos(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="photos", mappings={"properties": {
        "name": {"type": "keyword"},
        "v": {"type": "dense_vector", "dims": 2, "similarity": "l2_norm"},
        "c": {"type": "dense_vector", "dims": 2, "similarity": "cosine"}}})
    for i, (v, c) in enumerate([([0, 0], [1, 0]), ([3, 0], [0, 1]), ([0, 10], [1, 1])]):
        es.index(index="photos", id=str(i), document={"name": f"p{i}", "v": v, "c": c})
    es.indices.refresh(index="photos")
    return es


def _ids(es: Elasticsearch, query: dict) -> list[str]:
    return [h["_id"] for h in es.search(index="photos", query=query)["hits"]["hits"]]


def test_only_neighbours_within_the_threshold_match(photos: Elasticsearch) -> None:
    # l2_norm compares the squared distance: 0 and 9 are within 10, 100 is not
    near = {"field": "v", "query_vector": [0, 0], "num_candidates": 3}
    assert _ids(photos, {"vector_similarity": {**near, "similarity": 10}}) == ["0", "1"]
    assert _ids(photos, {"vector_similarity": {**near, "similarity": 8}}) == ["0"]
    # only the num_candidates nearest are considered
    assert _ids(photos, {"vector_similarity": {**near, "num_candidates": 1,
                                               "similarity": 1000}}) == ["0"]
    # cosine: the raw cosine; [1, 1] is at cos 0.707 from [1, 0]
    cos = {"field": "c", "query_vector": [1, 0], "num_candidates": 3}
    assert _ids(photos, {"vector_similarity": {**cos, "similarity": 0.7}}) == ["0", "2"]


def test_it_combines_with_other_clauses_and_scores_with_its_boost(photos: Elasticsearch
                                                                  ) -> None:
    clause = {"vector_similarity": {"field": "v", "query_vector": [0, 0], "num_candidates": 3,
                                    "similarity": 10, "boost": 2}}
    assert _ids(photos, {"bool": {"must": [clause, {"term": {"name": "p2"}}]}}) == []
    hits = photos.search(index="photos", query={"bool": {"must": [
        clause, {"term": {"name": "p1"}}]}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]
    assert hits[0]["_score"] == pytest.approx(2 * 1 / (1 + 9) + 0.9808, abs=0.01)


@pytest.mark.parametrize("body, message", [
    ({"field": "v", "query_vector": [0, 0], "num_candidates": 0, "similarity": 1},
     "[num_candidates] must be greater than 0"),
    ({"field": "v", "query_vector": [0, 0], "similarity": 1}, "Required [num_candidates]"),
    ({"query_vector": [0, 0], "num_candidates": 3, "similarity": 1}, "Required [field]"),
    ({"field": "v", "num_candidates": 3, "similarity": 1}, "Required [query_vector]"),
    ({"field": "v", "query_vector": [0, 0], "num_candidates": 3}, "Required [similarity]"),
    ({"field": "nope", "query_vector": [0, 0], "num_candidates": 3, "similarity": 1},
     "field [nope] does not exist in the mapping"),
    ({"field": "name", "query_vector": [0, 0], "num_candidates": 3, "similarity": 1},
     "[vector_similarity] queries are only supported on [dense_vector] fields"),
])
def test_bad_requests_are_refused(photos: Elasticsearch, body: dict, message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        photos.search(index="photos", query={"vector_similarity": body})
    assert message in str(err.value.body)
