"""Field collapsing (top-level and in the standard retriever) and `terminate_after`."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

CHUNKS = [  # (id, doc_id, page, text)
    ("a1", "A", 1, "solar panels convert light"),
    ("a2", "A", 2, "solar panels solar cells solar"),
    ("b1", "B", 1, "wind turbines and solar farms"),
    ("c1", "C", 1, "hydro power dams"),
    ("c2", "C", 2, "solar power in winter"),
    ("n1", None, 1, "solar without a document"),
]


@pytest.fixture
def chunks(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="chunks", mappings={"properties": {
        "doc_id": {"type": "keyword"}, "page": {"type": "integer"}, "text": {"type": "text"},
        "tags": {"type": "keyword"}}})
    ops: list[dict[str, Any]] = []
    for chunk_id, doc_id, page, text in CHUNKS:
        ops.append({"index": {"_index": "chunks", "_id": chunk_id}})
        ops.append({"text": text, "page": page, **({"doc_id": doc_id} if doc_id else {})})
    es.bulk(operations=ops, refresh=True)
    return es


def test_collapse_keeps_the_best_chunk_per_document(chunks: Elasticsearch) -> None:
    everything = chunks.search(index="chunks", query={"match": {"text": "solar"}})
    collapsed = chunks.search(index="chunks", query={"match": {"text": "solar"}},
                              collapse={"field": "doc_id"})
    assert collapsed["hits"]["total"] == everything["hits"]["total"]  # matches, not groups
    ranked = [h["_id"] for h in everything["hits"]["hits"]]
    hits = collapsed["hits"]["hits"]
    groups = [h["fields"]["doc_id"][0] for h in hits]
    assert sorted(groups, key=str) == sorted(["A", "B", "C", None], key=str)
    # each group is represented by its best-ranked chunk, in rank order
    firsts: dict[Any, str] = {}
    by_id = {c[0]: c[1] for c in CHUNKS}
    for chunk_id in ranked:
        firsts.setdefault(by_id[chunk_id], chunk_id)
    assert [h["_id"] for h in hits] == [firsts[g] for g in groups]
    assert [h["_id"] for h in hits] == sorted(firsts.values(), key=ranked.index)


def test_collapse_pages_over_groups_and_sorts(chunks: Elasticsearch) -> None:
    by_page = chunks.search(index="chunks", query={"match_all": {}}, sort=[{"page": "desc"}],
                            collapse={"field": "page"}, size=1)
    assert [h["fields"]["page"] for h in by_page["hits"]["hits"]] == [[2]]
    assert by_page["hits"]["hits"][0]["sort"] == [2]
    second = chunks.search(index="chunks", query={"match_all": {}}, sort=[{"page": "desc"}],
                           collapse={"field": "page"}, size=5, from_=1)
    assert [h["fields"]["page"] for h in second["hits"]["hits"]] == [[1]]


def test_inner_hits_list_each_group(chunks: Elasticsearch) -> None:
    resp = chunks.search(index="chunks", query={"match": {"text": "solar"}},
                         collapse={"field": "doc_id", "inner_hits": {
                             "name": "pages", "size": 5, "sort": [{"page": "asc"}],
                             "_source": ["page"]}})
    by_group = {h["fields"]["doc_id"][0]: h["inner_hits"]["pages"]["hits"]
                for h in resp["hits"]["hits"]}
    assert [h["_id"] for h in by_group["A"]["hits"]] == ["a1", "a2"]
    assert by_group["A"]["total"] == {"value": 2, "relation": "eq"}
    assert by_group["A"]["hits"][0]["_source"] == {"page": 1}
    assert [h["_id"] for h in by_group["C"]["hits"]] == ["c2"]  # c1 does not match "solar"
    assert [h["_id"] for h in by_group[None]["hits"]] == ["n1"]


def test_inner_hits_totals_follow_rest_total_hits_as_int(chunks: Elasticsearch) -> None:
    resp = chunks.search(index="chunks", query={"match": {"text": "solar"}},
                         collapse={"field": "doc_id", "inner_hits": {"name": "pages"}},
                         rest_total_hits_as_int=True)
    totals = {h["fields"]["doc_id"][0]: h["inner_hits"]["pages"]["hits"]["total"]
              for h in resp["hits"]["hits"]}
    assert totals == {"A": 2, "B": 1, "C": 1, None: 1}


def test_collapse_in_the_standard_retriever(chunks: Elasticsearch) -> None:
    resp = chunks.search(index="chunks", retriever={"standard": {
        "query": {"match": {"text": "solar"}}, "collapse": {"field": "doc_id"}}})
    assert len({h["fields"]["doc_id"][0] for h in resp["hits"]["hits"]}) == \
        len(resp["hits"]["hits"]) == 4
    fused = chunks.search(index="chunks", retriever={"rrf": {"retrievers": [
        {"standard": {"query": {"match": {"text": "solar"}}, "collapse": {"field": "doc_id"}}},
        {"standard": {"query": {"match": {"text": "power"}}}}]}})
    assert {h["_id"] for h in fused["hits"]["hits"]} >= {"c1", "c2"}


@pytest.mark.parametrize("collapse, message", [
    ({"field": "text"}, "collapse is not supported for the field [text] of the type [text]"),
    ({"field": "nope"}, "no mapping found for `nope` in order to collapse on"),
    ({"field": "doc_id", "inner_hits": {"size": 1}}, "inner_hits must have a [name]"),
    ({"field": "doc_id", "size": 1}, "[collapse] unknown field [size]"),
])
def test_bad_collapse_is_refused(chunks: Elasticsearch, collapse: dict[str, Any],
                                 message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        chunks.search(index="chunks", collapse=collapse)
    assert message in str(err.value.body)


def test_collapse_on_a_multi_valued_field_fails(chunks: Elasticsearch) -> None:
    chunks.index(index="chunks", id="m", document={"text": "x", "tags": ["a", "b"]},
                 refresh=True)
    with pytest.raises(BadRequestError, match="must be single valued"):
        chunks.search(index="chunks", query={"match_all": {}}, collapse={"field": "tags"})


def test_collapse_with_search_after_needs_the_same_sort(chunks: Elasticsearch) -> None:
    with pytest.raises(BadRequestError, match="sorted on the same field"):
        chunks.search(index="chunks", collapse={"field": "doc_id"}, sort=["page"],
                      search_after=[1])
    resp = chunks.search(index="chunks", collapse={"field": "doc_id"}, sort=["doc_id"],
                         search_after=["A"])
    assert [h["fields"]["doc_id"] for h in resp["hits"]["hits"]] == [["B"], ["C"], [None]]
    # one sort object naming two fields is two sort keys, which collapse cannot page on
    with pytest.raises(BadRequestError, match="Multiple sort fields are not allowed"):
        chunks.search(index="chunks", collapse={"field": "doc_id"},
                      sort=[{"doc_id": "asc", "page": "desc"}], search_after=["A", 1])


def test_a_sort_object_may_name_several_fields(chunks: Elasticsearch) -> None:
    resp = chunks.search(index="chunks", sort=[{"page": "desc", "doc_id": "asc"}], size=3)
    assert [h["sort"] for h in resp["hits"]["hits"]] == [[2, "A"], [2, "C"], [1, "A"]]


def test_terminate_after_stops_at_the_first_matches_in_index_order(
        chunks: Elasticsearch) -> None:
    resp = chunks.search(index="chunks", query={"match_all": {}}, sort=[{"page": "desc"}],
                         terminate_after=3)
    assert resp["terminated_early"] is True
    assert resp["hits"]["total"]["value"] == 3
    assert [h["_id"] for h in resp["hits"]["hits"]] == ["a2", "a1", "b1"]
    loose = chunks.search(index="chunks", query={"match_all": {}}, terminate_after=100)
    assert loose["terminated_early"] is False
    assert loose["hits"]["total"]["value"] == len(CHUNKS)
    retriever = chunks.search(index="chunks", retriever={"standard": {
        "query": {"match_all": {}}, "terminate_after": 2, "sort": [{"page": "desc"}]}})
    assert [h["_id"] for h in retriever["hits"]["hits"]] == ["a2", "a1"]
    assert "terminated_early" not in chunks.search(index="chunks")


def test_count_stops_at_terminate_after(chunks: Elasticsearch) -> None:
    resp = chunks.count(index="chunks", terminate_after=2)
    assert (resp["count"], resp["terminated_early"]) == (2, True)
    assert chunks.count(index="chunks", terminate_after=50)["terminated_early"] is False
    assert "terminated_early" not in chunks.count(index="chunks")


def test_max_score_is_over_every_match_not_only_the_page(chunks: Elasticsearch) -> None:
    query = {"match": {"text": "solar"}}
    best = chunks.search(index="chunks", query=query)["hits"]["max_score"]
    page = chunks.search(index="chunks", query=query, collapse={"field": "doc_id"},
                         sort=[{"doc_id": "desc"}], track_scores=True, size=1)["hits"]
    assert page["hits"][0]["_score"] < best
    assert page["max_score"] == best
