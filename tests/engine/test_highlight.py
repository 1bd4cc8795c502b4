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


@pytest.fixture
def codes(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="codes", mappings={"properties": {
        "k1": {"type": "keyword"}, "k2": {"type": "keyword", "ignore_above": 3},
        "text": {"type": "text"}}})
    es.index(index="codes", id="1", document={"k1": "123", "k2": "123", "text": "supported"})
    es.index(index="codes", id="2", document={"k1": "1234", "k2": "1234", "text": "support"})
    es.indices.refresh(index="codes")
    return es


def _highlights(es: Elasticsearch, query: dict, fields: dict, **options: object) -> dict:
    hits = es.search(index="codes", query=query,
                     highlight={"fields": fields, **options})["hits"]["hits"]
    return {h["_id"]: h.get("highlight", {}) for h in hits}


def test_prefix_wildcard_and_regexp_terms_are_highlighted(codes: Elasticsearch) -> None:
    got = _highlights(codes, {"prefix": {"text": "supp"}}, {"text": {}})
    assert got == {"1": {"text": ["<em>supported</em>"]}, "2": {"text": ["<em>support</em>"]}}
    got = _highlights(codes, {"regexp": {"text": "support"}}, {"text": {}})
    assert got == {"2": {"text": ["<em>support</em>"]}}  # the whole term must match


def test_require_field_match_false_highlights_other_fields(codes: Elasticsearch) -> None:
    query = {"prefix": {"k1": "12"}}
    assert _highlights(codes, query, {"k2": {}}) == {"1": {}, "2": {}}
    got = _highlights(codes, query, {"k2": {}}, require_field_match=False)
    # "1234" is longer than k2's ignore_above: not indexed, so never highlighted
    assert got == {"1": {"k2": ["<em>123</em>"]}, "2": {}}
