"""`regexp` and `fuzzy` term-level queries on keyword and text terms."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def products(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="products", mappings={"properties": {
        "sku": {"type": "keyword"}, "name": {"type": "text"}}})
    for doc_id, sku, name in [("1", "AB-100", "Wireless keyboard"),
                              ("2", "AB-200", "Wired keybaord"),
                              ("3", "CD-100", "Mouse pad")]:
        es.index(index="products", id=doc_id, document={"sku": sku, "name": name})
    es.indices.refresh(index="products")
    return es


def _ids(es: Elasticsearch, query: dict) -> list[str]:
    return sorted(h["_id"] for h in es.search(index="products", query=query)["hits"]["hits"])


def test_regexp_matches_whole_terms(products: Elasticsearch) -> None:
    assert _ids(products, {"regexp": {"sku": "AB-[0-9]+"}}) == ["1", "2"]
    assert _ids(products, {"regexp": {"sku": {"value": ".*-100"}}}) == ["1", "3"]
    assert _ids(products, {"regexp": {"sku": "AB"}}) == []  # not a substring search
    assert _ids(products, {"regexp": {"name": "key.*"}}) == ["1", "2"]  # analyzed terms


def test_regexp_longer_than_the_index_limit_is_refused(products: Elasticsearch) -> None:
    products.indices.put_settings(index="products", settings={"index.max_regex_length": 5})
    with pytest.raises(BadRequestError, match=r"The length of regex \[6\] used in the Regexp "
                                              r"Query request has exceeded the allowed "
                                              r"maximum of \[5\]"):
        products.search(index="products", query={"regexp": {"sku": "AB-1.*"}})


def test_fuzzy_finds_terms_within_the_edit_distance(products: Elasticsearch) -> None:
    assert _ids(products, {"fuzzy": {"name": "keyboard"}}) == ["1", "2"]  # a transposition
    assert _ids(products, {"fuzzy": {"name": {"value": "keyboard", "fuzziness": 1}}}) == \
        ["1", "2"]
    assert _ids(products, {"fuzzy": {"name": {"value": "keyboard", "fuzziness": 1,
                                              "transpositions": False}}}) == ["1"]
    assert _ids(products, {"fuzzy": {"name": {"value": "keyboard", "fuzziness": 0}}}) == ["1"]
    assert _ids(products, {"fuzzy": {"name": {"value": "mouze", "prefix_length": 2}}}) == ["3"]
    assert _ids(products, {"fuzzy": {"name": {"value": "nouse", "prefix_length": 1}}}) == []
