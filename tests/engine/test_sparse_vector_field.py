"""A sparse_vector field under an object: indexed, and searched by `term` and `sparse_vector`."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch


@pytest.fixture
def tokens(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="expanded", mappings={"properties": {
        "ml.tokens": {"type": "sparse_vector"}}})
    es.index(index="expanded", id="run", document={"ml": {"tokens": {"run": 2.0, "good": 0.5}}})
    es.index(index="expanded", id="walk", document={"ml": {"tokens": {"walk": 1.5,
                                                                      "good": 1.0}}})
    es.indices.refresh(index="expanded")
    return es


def test_a_term_scores_the_stored_weight_times_its_boost(tokens: Elasticsearch) -> None:
    hits = tokens.search(index="expanded", query={"bool": {"should": [
        {"term": {"ml.tokens": {"value": "walk", "boost": 2.0}}},
        {"term": {"ml.tokens": "good"}}]}})["hits"]["hits"]
    assert [(h["_id"], h["_score"]) for h in hits] == [("walk", 4.0), ("run", 0.5)]


def test_a_sparse_vector_query_reads_the_field_under_its_object(tokens: Elasticsearch) -> None:
    hits = tokens.search(index="expanded", query={"sparse_vector": {
        "field": "ml.tokens", "query_vector": {"run": 1.0, "good": 2.0}}})["hits"]["hits"]
    assert [(h["_id"], h["_score"]) for h in hits] == [("run", 3.0), ("walk", 2.0)]
