"""The multi-field format of the `linear` and `rrf` retrievers (`query` + `fields`): lexical
fields searched together with per-field boosts, each semantic_text field by its own semantic
match, the groups fused by the retriever; Elasticsearch's validation messages, and its refusal of
vector fields, which hold no text to match."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

DENSE = {"service": "text_embedding_test_service",
         "service_settings": {"model": "m", "dimensions": 8, "api_key": "k"}}


@pytest.fixture
def library(es: Elasticsearch) -> Iterator[Elasticsearch]:
    es.inference.put(task_type="text_embedding", inference_id="dense", inference_config=DENSE)
    es.indices.create(index="library", mappings={"properties": {
        "title": {"type": "text"}, "summary": {"type": "text"},
        "meaning": {"type": "semantic_text", "inference_id": "dense"},
        "vector": {"type": "dense_vector", "dims": 2}, "weights": {"type": "sparse_vector"}}})
    docs = {"a": ("red apples", "a story about fruit", "orchards"),
            "b": ("green pears", "red and green fruit", "pears"),
            "c": ("blue sky", "weather", "red apples")}
    for doc_id, (title, summary, meaning) in docs.items():
        es.index(index="library", id=doc_id,
                 document={"title": title, "summary": summary, "meaning": meaning})
    es.indices.refresh(index="library")
    yield es
    es.indices.delete(index="library")
    es.inference.delete(inference_id="dense", force=True)


def ids(body: Any) -> list[str]:
    return [h["_id"] for h in body["hits"]["hits"]]


def test_linear_boosts_lexical_fields_and_normalizes_each_group(library: Elasticsearch
                                                                  ) -> None:
    title_first = library.search(index="library", retriever={"linear": {
        "query": "red", "fields": ["title^5", "summary"], "normalizer": "minmax"}})
    assert ids(title_first) == ["a", "b"]
    assert title_first["hits"]["hits"][0]["_score"] == pytest.approx(1.0)
    summary_first = library.search(index="library", retriever={"linear": {
        "query": "red", "fields": ["title", "summary^5"], "normalizer": "minmax"}})
    assert ids(summary_first) == ["b", "a"]
    # the semantic field alone: the test service embeds "red apples" exactly as c's meaning
    semantic = library.search(index="library", retriever={"linear": {
        "query": "red apples", "fields": ["meaning"], "normalizer": "minmax"}})
    assert ids(semantic)[0] == "c"
    assert semantic["hits"]["hits"][0]["_score"] == pytest.approx(1.0)
    # every field (index.query.default_field is *): both groups, each normalized to [0, 1]
    both = library.search(index="library", retriever={"linear": {
        "query": "red apples", "normalizer": "minmax"}})
    assert set(ids(both)) == {"a", "b", "c"}
    assert all(h["_score"] <= 2.0 for h in both["hits"]["hits"])


def test_rrf_fuses_the_lexical_and_semantic_groups(library: Elasticsearch) -> None:
    body = library.search(index="library", retriever={"rrf": {
        "query": "red apples", "fields": ["title", "meaning"]}})
    # lexically only a matches; semantically c is first, a and b follow: a gets 1/61 from the
    # lexical group plus its semantic rank's share, c only 1/61 (first of the semantic group)
    assert ids(body)[:2] == ["a", "c"]
    scores = {h["_id"]: h["_score"] for h in body["hits"]["hits"]}
    assert scores["c"] == pytest.approx(1 / 61)
    assert scores["a"] in (pytest.approx(1 / 61 + 1 / 62), pytest.approx(1 / 61 + 1 / 63))


@pytest.mark.parametrize(("retriever", "message"), [
    ({"linear": {"query": "x"}},
     "[linear] [normalizer] must be provided when [query] is specified"),
    ({"linear": {"fields": ["title"], "normalizer": "minmax"}},
     "[linear] [query] must be provided when [fields] is specified"),
    ({"linear": {"query": "", "normalizer": "minmax"}}, "[linear] [query] cannot be empty"),
    ({"rrf": {"query": "x", "retrievers": [{"standard": {"query": {"match_all": {}}}}]}},
     "[rrf] cannot combine [retrievers] and [query]"),
    ({"rrf": {}}, "[rrf] must provide [retrievers] or [query]"),
    ({"linear": {"query": "x", "fields": ["title^-1"], "normalizer": "minmax"}},
     "[linear] per-field weights must be non-negative"),
])
def test_invalid_requests_get_elasticsearchs_messages(library: Elasticsearch,
                                                      retriever: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        library.search(index="library", retriever=retriever)
    assert message in str(err.value)


def test_the_format_is_refused_over_several_indices(library: Elasticsearch) -> None:
    library.indices.create(index="other")
    try:
        with pytest.raises(BadRequestError) as err:
            library.search(index="library,other", retriever={"linear": {
                "query": "red", "normalizer": "minmax"}})
        assert "[linear] does not support the simplified query format when querying " \
            "multiple indices" in str(err.value)
    finally:
        library.indices.delete(index="other")


@pytest.mark.parametrize(("kind", "field", "ftype"), [
    ("linear", "vector", "dense_vector"), ("rrf", "weights", "sparse_vector")])
def test_vector_fields_cannot_be_queried_as_text(library: Elasticsearch, kind: str, field: str,
                                                  ftype: str) -> None:
    retriever: dict[str, Any] = {"query": "red", "fields": [field]}
    if kind == "linear":
        retriever["normalizer"] = "minmax"
    with pytest.raises(BadRequestError) as err:
        library.search(index="library", retriever={kind: retriever})
    error = err.value.body["error"]
    assert error["type"] == "status_exception"
    assert error["reason"] == (f"[{kind}] search failed - retrievers '[standard]' returned "
                               f"errors. All failures are attached as suppressed exceptions.")
    [failed] = error["root_cause"][0]["suppressed"]
    assert failed["type"] == "search_phase_execution_exception"
    reason = f"Field [{field}] of type [{ftype}] does not support match queries"
    assert failed["failed_shards"][0]["reason"]["reason"] == f"failed to create query: {reason}"
    for query in ({"match": {field: "red"}}, {"multi_match": {"query": "red",
                                                              "fields": [field]}}):
        with pytest.raises(BadRequestError) as err:
            library.search(index="library", query=query)
        assert err.value.body["error"]["reason"] == f"failed to create query: {reason}"
    with pytest.raises(BadRequestError) as err:
        library.search(index="library", query={"match_phrase": {field: "red apples"}})
    assert "does not support match_phrase queries" in err.value.body["error"]["reason"]
    lenient = library.search(index="library", query={"match": {
        field: {"query": "red", "lenient": True}}})
    assert ids(lenient) == []
