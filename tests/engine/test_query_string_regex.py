"""`/regex/` terms in query_string, bounded by `index.max_regex_length`."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, Elasticsearch


@pytest.fixture
def paths(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="paths", settings={"index.max_regex_length": 12}, mappings={
        "properties": {"path": {"type": "keyword"}, "body": {"type": "text"}}})
    docs = [("usr/bin", "Quick brown fox"), ("usr/lib", "lazy dogs"), ("etc", "brown bears")]
    for i, (path, body) in enumerate(docs):
        es.index(index="paths", id=str(i), document={"path": path, "body": body})
    es.indices.refresh(index="paths")
    return es


def _ids(es: Elasticsearch, query: str, **extra: object) -> list[str]:
    resp = es.search(index="paths", query={"query_string": {"query": query, **extra}})
    return sorted(h["_id"] for h in resp["hits"]["hits"])


def test_a_regex_term_matches_whole_terms(paths: Elasticsearch) -> None:
    assert _ids(paths, "path:/usr\\/.i./") == ["0", "1"]
    assert _ids(paths, "body:/br.wn/ AND -body:/f[aeiou]x/") == ["2"]
    assert _ids(paths, "/do.?s/", default_field="body") == ["1"]
    assert _ids(paths, "/bro/", default_field="body") == []  # the whole term must match


def test_a_regex_longer_than_the_index_limit_is_refused(paths: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        paths.search(index="paths", query={"query_string": {"query": "path:/abcdefghijklm/"}})
    assert "The length of regex [13] used in the Regexp Query request has exceeded the " \
           "allowed maximum of [12]. This maximum can be set by changing the " \
           "[index.max_regex_length] index level setting." in str(err.value.body)

