"""Highlighting options Elasticsearch validates before searching."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def articles(es: Elasticsearch) -> Elasticsearch:
    es.index(index="articles", id="1", document={"text": "The quick brown fox is brown."},
             refresh=True)
    return es


@pytest.mark.parametrize("highlight", [
    {"fields": {"text": {}}, "pre_tags": [], "post_tags": []},
    {"fields": {"text": {}}, "pre_tags": ["<b>"], "post_tags": []},
    {"fields": {"text": {"pre_tags": []}}},
])
def test_empty_tags_are_refused(articles: Elasticsearch, highlight: dict) -> None:
    with pytest.raises(BadRequestError, match="pre_tags or post_tags must not be empty"):
        articles.search(index="articles", query={"match": {"text": "fox"}},
                        highlight=highlight)


def test_given_tags_mark_the_terms(articles: Elasticsearch) -> None:
    resp = articles.search(index="articles", query={"match": {"text": "fox"}}, highlight={
        "fields": {"text": {}}, "pre_tags": ["<b>"], "post_tags": ["</b>"]})
    assert resp["hits"]["hits"][0]["highlight"]["text"] == ["The quick brown <b>fox</b> is brown."]
