"""`combined_fields`: BM25F across text fields, checked against the formula."""

from __future__ import annotations

import math

import pytest
from elasticsearch import BadRequestError, Elasticsearch

DOCS = {"1": ("solar power", "panels on roofs"), "2": ("wind", "solar solar farms"),
        "3": ("hydro dams", "rivers")}


@pytest.fixture
def pages(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="pages", mappings={"properties": {
        "title": {"type": "text"}, "body": {"type": "text"}, "tag": {"type": "keyword"},
        "en": {"type": "text", "analyzer": "english"}}})
    for doc_id, (title, body) in DOCS.items():
        es.index(index="pages", id=doc_id, document={"title": title, "body": body})
    es.indices.refresh(index="pages")
    return es


def _bm25f(tf: float, length: float, avgdl: float, n: int, big_n: int) -> float:
    idf = math.log(1 + (big_n - n + 0.5) / (n + 0.5))
    return 2.2 * idf * tf / (tf + 1.2 * (0.25 + 0.75 * length / avgdl))


def test_scores_are_bm25f_over_the_boosted_fields(pages: Elasticsearch) -> None:
    resp = pages.search(index="pages", query={"combined_fields": {
        "query": "solar", "fields": ["title", "body^2"]}})
    scores = {h["_id"]: h["_score"] for h in resp["hits"]["hits"]}
    # title lengths 2+1+2, body lengths 3+3+1: boosted total 5 + 2*7 over 3 documents
    avgdl = (5 + 2 * 7) / 3
    assert scores["1"] == pytest.approx(_bm25f(1, 2 + 2 * 3, avgdl, 1, 3), rel=1e-5)
    assert scores["2"] == pytest.approx(_bm25f(2 * 2, 1 + 2 * 3, avgdl, 1, 3), rel=1e-5)
    assert set(scores) == {"1", "2"}


def test_operator_and_minimum_should_match(pages: Elasticsearch) -> None:
    def ids(**options: object) -> set[str]:
        resp = pages.search(index="pages", query={"combined_fields": {
            "query": "solar roofs wind", "fields": ["title", "body"], **options}})
        return {h["_id"] for h in resp["hits"]["hits"]}

    assert ids() == {"1", "2"}
    # a term may match in any field: "wind" in a title and "solar" in a body make two
    assert ids(minimum_should_match=2) == {"1", "2"}
    assert ids(minimum_should_match=3) == set()
    assert ids(operator="and", query="solar wind") == {"2"}
    assert ids(zero_terms_query="all", query="--") == {"1", "2", "3"}


@pytest.mark.parametrize("fields, message", [
    (["title", "tag"], "Field [tag] of type [keyword] does not support [combined_fields]"),
    (["title", "en"], "must have the same search analyzer"),
    (["title^0.5"], "requires field boosts to be >= 1.0"),
])
def test_fields_it_cannot_combine_are_refused(pages: Elasticsearch, fields: list[str],
                                              message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        pages.search(index="pages", query={"combined_fields": {"query": "solar",
                                                               "fields": fields}})
    assert message in str(err.value.body)


def test_highlight_marks_the_terms_in_every_field(pages: Elasticsearch) -> None:
    resp = pages.search(index="pages", query={"combined_fields": {
        "query": "solar", "fields": ["title", "body"]}}, highlight={"fields": {"*": {}}})
    marked = {h["_id"]: h["highlight"] for h in resp["hits"]["hits"]}
    assert marked["1"] == {"title": ["<em>solar</em> power"]}
    assert marked["2"] == {"body": ["<em>solar</em> <em>solar</em> farms"]}
