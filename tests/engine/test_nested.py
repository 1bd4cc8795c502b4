"""`nested` fields: each object matched as a whole by the `nested` query (score modes, inner
hits, errors), kNN over passages stored as nested objects of one document (best passage per
document, inner hits, filters, hybrid RRF), updates, deletes, restarts and limits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from es_rag.engine.server import EngineServer

MAPPING = {"properties": {
    "title": {"type": "text"}, "lang": {"type": "keyword"},
    "passages": {"type": "nested", "properties": {
        "text": {"type": "text"}, "page": {"type": "integer"},
        "vector": {"type": "dense_vector", "dims": 3, "similarity": "cosine"}}}}}

DOCS: dict[str, dict[str, Any]] = {
    "guide": {"title": "Solar guide", "lang": "en", "passages": [
        {"text": "solar panels on the roof", "page": 1, "vector": [1.0, 0.0, 0.0]},
        {"text": "wind farms at sea", "page": 2, "vector": [0.0, 1.0, 0.0]},
        {"text": "solar cells and solar heat", "page": 3, "vector": [0.8, 0.6, 0.0]}]},
    "report": {"title": "Wind report", "lang": "de", "passages": [
        {"text": "solar wind in space", "page": 1, "vector": [0.6, 0.8, 0.0]},
        {"text": "the sea at night", "page": 5, "vector": [0.0, 0.0, 1.0]}]},
    "memo": {"title": "Memo", "lang": "en", "passages": [
        {"text": "offshore wind", "page": 1, "vector": [0.0, 0.6, 0.8]}]},
}


def load(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="books", mappings=MAPPING)
    for doc_id, doc in DOCS.items():
        es.index(index="books", id=doc_id, document=doc)
    es.indices.refresh(index="books")
    return es


@pytest.fixture
def books(es: Elasticsearch) -> Elasticsearch:
    return load(es)


def nested(query: dict[str, Any], **opts: Any) -> dict[str, Any]:
    return {"nested": {"path": "passages", "query": query, **opts}}


def ids(response: Any) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def cosine_score(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return (1 + dot / norm) / 2


def test_the_fields_of_one_object_are_matched_together(books: Elasticsearch) -> None:
    both = {"bool": {"must": [{"match": {"passages.text": "sea"}},
                              {"term": {"passages.page": 2}}]}}
    # "sea" is on page 2 of the guide; the report has it on page 5 and another passage on page 1
    assert ids(books.search(index="books", query=nested(both))) == ["guide"]
    across = {"bool": {"must": [{"match": {"passages.text": "sea"}},
                                {"term": {"passages.page": 1}}]}}
    assert ids(books.search(index="books", query=nested(across))) == []
    # outside a nested query, the fields of nested objects match nothing at the root
    assert books.search(index="books", query={"match": {"passages.text": "solar"}}
                        )["hits"]["total"]["value"] == 0
    assert books.count(index="books")["count"] == 3  # objects are not documents


def test_score_modes_combine_the_matching_objects(books: Elasticsearch) -> None:
    query = {"match": {"passages.text": "solar"}}
    inner = books.search(index="books", query=nested(query, inner_hits={"size": 10}))
    objects = {hit["_id"]: [h["_score"] for h in
                            hit["inner_hits"]["passages"]["hits"]["hits"]]
               for hit in inner["hits"]["hits"]}
    assert len(objects["guide"]) == 2 and len(objects["report"]) == 1
    expected = {"avg": lambda s: sum(s) / len(s), "sum": sum, "max": max, "min": min,
                "none": lambda s: 0.0}
    for mode, combine in expected.items():
        response = books.search(index="books", query=nested(query, score_mode=mode))
        scores = {hit["_id"]: hit["_score"] for hit in response["hits"]["hits"]}
        assert set(scores) == {"guide", "report"}
        for doc_id, score in scores.items():
            assert score == pytest.approx(combine(objects[doc_id]), rel=1e-5), mode
    boosted = books.search(index="books", query=nested(query, score_mode="max", boost=2.0))
    plain = books.search(index="books", query=nested(query, score_mode="max"))
    assert boosted["hits"]["max_score"] == pytest.approx(2 * plain["hits"]["max_score"])


def test_inner_hits_list_the_matching_objects(books: Elasticsearch) -> None:
    response = books.search(index="books", query=nested(
        {"match": {"passages.text": "solar"}},
        inner_hits={"name": "pages", "_source": ["passages.page"], "size": 1,
                    "highlight": {"fields": {"passages.text": {}}}}))
    guide = next(h for h in response["hits"]["hits"] if h["_id"] == "guide")
    pages = guide["inner_hits"]["pages"]["hits"]
    assert pages["total"] == {"value": 2, "relation": "eq"}
    [best] = pages["hits"]
    assert best["_id"] == "guide" and best["_nested"] == {"field": "passages", "offset": 2}
    assert best["_source"] == {"page": 3}
    assert best["_score"] == pages["max_score"]
    assert best["highlight"] == {"passages.text": ["<em>solar</em> cells and <em>solar</em> heat"]}
    second = books.search(index="books", query=nested(
        {"match": {"passages.text": "solar"}}, inner_hits={"from": 1, "size": 5}))
    guide = next(h for h in second["hits"]["hits"] if h["_id"] == "guide")
    assert [h["_nested"]["offset"] for h in guide["inner_hits"]["passages"]["hits"]["hits"]
            ] == [0]
    by_page = books.search(index="books", query=nested(
        {"match_all": {}}, inner_hits={"sort": [{"passages.page": "desc"}], "_source": False}))
    report = next(h for h in by_page["hits"]["hits"] if h["_id"] == "report")
    hits = report["inner_hits"]["passages"]["hits"]["hits"]
    assert [h["sort"] for h in hits] == [[5], [1]]
    assert [h["_score"] for h in hits] == [None, None] and "_source" not in hits[0]


def test_nested_query_errors_follow_elasticsearch(books: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        books.search(index="books", query={"nested": {"path": "title",
                                                      "query": {"match_all": {}}}})
    assert err.value.error == "query_shard_exception"
    assert err.value.body["error"]["reason"] == \
        "failed to create query: [nested] failed to find nested object under path [title]"
    assert books.search(index="books", query={"nested": {
        "path": "nowhere", "query": {"match_all": {}}, "ignore_unmapped": True}}
    )["hits"]["total"]["value"] == 0
    with pytest.raises(BadRequestError, match="requires 'path' field"):
        books.search(index="books", query={"nested": {"query": {"match_all": {}}}})
    with pytest.raises(BadRequestError, match="requires 'query' field"):
        books.search(index="books", query={"nested": {"path": "passages"}})
    with pytest.raises(BadRequestError, match=r"No score mode for child query \[median\]"):
        books.search(index="books", query=nested({"match_all": {}}, score_mode="median"))
    with pytest.raises(BadRequestError, match=r"\[inner_hits\] unknown field \[colour\]"):
        books.search(index="books", query=nested({"match_all": {}}, inner_hits={"colour": 1}))


def test_knn_over_passages_scores_each_document_by_its_best_passage(books: Elasticsearch
                                                                    ) -> None:
    query = [0.9, 0.1, 0.0]
    response = books.search(index="books", knn={
        "field": "passages.vector", "query_vector": query, "k": 2, "num_candidates": 10,
        "inner_hits": {"size": 3, "_source": ["passages.text"]}}, source=False)
    best = {doc_id: max(cosine_score(query, p["vector"]) for p in doc["passages"])
            for doc_id, doc in DOCS.items()}
    ranked = sorted(best, key=best.get, reverse=True)[:2]
    assert ids(response) == ranked  # two documents, not two passages of one document
    for hit in response["hits"]["hits"]:
        assert hit["_score"] == pytest.approx(best[hit["_id"]], rel=1e-5)
        passages = hit["inner_hits"]["passages"]["hits"]
        scores = [p["_score"] for p in passages["hits"]]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] == pytest.approx(hit["_score"], rel=1e-5)
        assert passages["total"]["value"] == len(DOCS[hit["_id"]]["passages"])
        for passage in passages["hits"]:
            original = DOCS[hit["_id"]]["passages"][passage["_nested"]["offset"]]
            assert passage["_source"] == {"text": original["text"]}
            assert passage["_score"] == pytest.approx(cosine_score(query, original["vector"]),
                                                      rel=1e-5)


def test_knn_over_passages_filters_on_document_fields(books: Elasticsearch) -> None:
    response = books.search(index="books", knn={
        "field": "passages.vector", "query_vector": [0.9, 0.1, 0.0], "k": 5,
        "num_candidates": 10, "filter": {"term": {"lang": "en"}}})
    assert ids(response) == ["guide", "memo"]
    threshold = books.search(index="books", knn={
        "field": "passages.vector", "query_vector": [0.0, 0.0, 1.0], "k": 5,
        "num_candidates": 10, "similarity": 0.5})
    assert ids(threshold) == ["report", "memo"]


def test_knn_query_and_rrf_over_nested_passages(books: Elasticsearch) -> None:
    knn = {"field": "passages.vector", "query_vector": [0.0, 0.6, 0.8], "k": 2,
           "num_candidates": 10}
    as_query = books.search(index="books", query={"knn": knn})
    assert ids(as_query)[0] == "memo" and len(ids(as_query)) == 2
    inside_nested = books.search(index="books", query=nested(
        {"knn": knn}, score_mode="max", inner_hits={"size": 1}))
    assert ids(inside_nested)[0] == "memo"
    hybrid = books.search(index="books", retriever={"rrf": {"retrievers": [
        {"standard": {"query": nested({"match": {"passages.text": "solar"}})}},
        {"knn": {**knn, "inner_hits": {"size": 1}}},
    ], "rank_window_size": 10}})
    assert set(ids(hybrid)) == {"guide", "report", "memo"}
    memo = next(h for h in hybrid["hits"]["hits"] if h["_id"] == "memo")
    assert memo["inner_hits"]["passages"]["hits"]["hits"][0]["_nested"]["offset"] == 0


def test_updates_and_deletes_replace_the_objects(books: Elasticsearch) -> None:
    sea = nested({"match": {"passages.text": "sea"}})
    assert set(ids(books.search(index="books", query=sea))) == {"guide", "report"}
    books.index(index="books", id="report", document={
        "title": "Wind report", "lang": "de",
        "passages": [{"text": "a calm lake", "page": 1, "vector": [0.0, 0.0, 1.0]}]})
    books.delete(index="books", id="guide", refresh=True)
    assert ids(books.search(index="books", query=sea)) == []
    knn = books.search(index="books", knn={"field": "passages.vector",
                                           "query_vector": [1.0, 0.0, 0.0], "k": 5,
                                           "num_candidates": 10, "inner_hits": {}})
    assert ids(knn) == ["memo", "report"]
    report = knn["hits"]["hits"][1]["inner_hits"]["passages"]["hits"]
    assert report["total"]["value"] == 1


def test_nested_objects_survive_a_restart(tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        load(Elasticsearch(server.url))
    finally:
        server.stop()
    server = EngineServer(tmp_path, port=0, security=False).start()
    try:
        es = Elasticsearch(server.url)
        assert ids(es.search(index="books", query=nested(
            {"match": {"passages.text": "offshore"}}))) == ["memo"]
        knn = es.search(index="books", knn={"field": "passages.vector",
                                            "query_vector": [0.0, 0.0, 1.0], "k": 1,
                                            "num_candidates": 10})
        assert ids(knn) == ["report"]
    finally:
        server.stop()


def test_nested_mapping_and_its_limits(es: Elasticsearch) -> None:
    es.indices.create(index="limited", settings={
        "index.mapping.nested_objects.limit": 2, "index.mapping.nested_fields.limit": 1},
        mappings={"properties": {"parts": {"type": "nested",
                                           "properties": {"name": {"type": "keyword"}}}}})
    mapping = es.indices.get_mapping(index="limited")["limited"]["mappings"]
    assert mapping["properties"]["parts"]["type"] == "nested"
    es.indices.put_mapping(index="limited", properties={
        "parts": {"type": "nested", "properties": {"size": {"type": "integer"}}}})
    with pytest.raises(BadRequestError, match=r"Limit of nested fields \[1\] has been exceeded"):
        es.indices.put_mapping(index="limited", properties={"more": {"type": "nested"}})
    with pytest.raises(BadRequestError, match="nested_objects.limit"):
        es.index(index="limited", id="x", document={"parts": [{"name": "a"}, {"name": "b"},
                                                              {"name": "c"}]})
    es.index(index="limited", id="y", refresh=True,
             document={"parts": [{"name": "a", "size": 1}, {"name": "b"}]})
    found = es.search(index="limited", query={"nested": {"path": "parts", "query": {
        "bool": {"must": [{"term": {"parts.name": "a"}}, {"term": {"parts.size": 1}}]}}}})
    assert ids(found) == ["y"]


def test_include_in_parent_also_indexes_the_values_in_the_document(es: Elasticsearch) -> None:
    es.indices.create(index="flat", mappings={"properties": {"tags": {
        "type": "nested", "include_in_parent": True,
        "properties": {"name": {"type": "keyword"}, "score": {"type": "integer"}}}}})
    es.index(index="flat", id="1", refresh=True, document={
        "tags": [{"name": "red", "score": 1}, {"name": "blue", "score": 2}]})
    across = {"bool": {"must": [{"term": {"tags.name": "red"}},
                                {"term": {"tags.score": 2}}]}}
    assert ids(es.search(index="flat", query=across)) == ["1"]  # flattened copy
    assert ids(es.search(index="flat", query={"nested": {"path": "tags",
                                                         "query": across}})) == []


def test_nested_and_reverse_nested_aggregations(books: Elasticsearch) -> None:
    response = books.search(index="books", size=0, query={"term": {"lang": "en"}}, aggs={
        "passages": {"nested": {"path": "passages"}, "aggs": {
            "last_page": {"max": {"field": "passages.page"}},
            "early": {"filters": {"filters": {"p1": {"term": {"passages.page": 1}}}}},
            "documents": {"reverse_nested": {}, "aggs": {
                "langs": {"terms": {"field": "lang"}}}}}}})
    passages = response["aggregations"]["passages"]
    assert passages["doc_count"] == 4  # the guide's 3 passages and the memo's 1
    assert passages["last_page"]["value"] == 3
    assert passages["early"]["buckets"]["p1"]["doc_count"] == 2
    assert passages["documents"]["doc_count"] == 2
    assert passages["documents"]["langs"]["buckets"] == [{"key": "en", "doc_count": 2}]
    with pytest.raises(BadRequestError, match=r"Missing \[path\] field for nested aggregation"):
        books.search(index="books", size=0, aggs={"p": {"nested": {}}})
    with pytest.raises(BadRequestError, match="can only be used inside a \\[nested\\]"):
        books.search(index="books", size=0, aggs={"r": {"reverse_nested": {}}})


def test_documents_sort_by_a_field_of_their_objects(books: Elasticsearch) -> None:
    def order(**sort: Any) -> list[str]:
        response = books.search(index="books", sort=[{"passages.page": sort}])
        return [f"{h['_id']}:{h['sort'][0]}" for h in response["hits"]["hits"]]

    nested_ctx = {"path": "passages"}
    # max page: guide 3, report 5, memo 1; min page: 1 for all (ties in index order)
    assert order(order="desc", nested=nested_ctx) == ["report:5", "guide:3", "memo:1"]
    # average page: guide (1+2+3)/3, report (1+5)/2, memo 1
    assert order(order="asc", mode="avg", nested=nested_ctx) == ["memo:1.0", "guide:2.0",
                                                                  "report:3.0"]
    solar_pages = order(order="desc", nested={
        "path": "passages", "filter": {"match": {"passages.text": "solar"}}})
    # pages of solar passages only: guide 1 and 3, report 1; memo has none and comes last
    assert solar_pages == ["guide:3", "report:1", f"memo:{-2**63}"]
    with pytest.raises(BadRequestError, match="mandatory to set the \\[nested\\] context"):
        books.search(index="books", sort=[{"passages.page": "asc"}])


def test_fields_of_nested_objects_are_grouped_per_object(books: Elasticsearch) -> None:
    response = books.search(index="books", query={"ids": {"values": ["report"]}},
                            fields=["passages.text", "title"], source=False)
    fields = response["hits"]["hits"][0]["fields"]
    assert fields["passages"] == [{"text": ["solar wind in space"]},
                                  {"text": ["the sea at night"]}]
    assert "passages.text" not in fields
    passages = books.search(index="books", source=False, knn={
        "field": "passages.vector", "query_vector": [0.0, 0.0, 1.0], "k": 1,
        "num_candidates": 10, "inner_hits": {"_source": False, "size": 1,
                                             "fields": ["passages.text"]}})
    [hit] = passages["hits"]["hits"][0]["inner_hits"]["passages"]["hits"]["hits"]
    assert hit["fields"] == {"passages": [{"text": ["the sea at night"]}]}
    assert "_source" not in hit


def test_document_level_security_holds_for_nested_queries_knn_and_aggregations(
        tmp_path: Path) -> None:
    server = EngineServer(tmp_path, port=0, elastic_password="admin-password").start()
    try:
        admin = load(Elasticsearch(server.url, basic_auth=("elastic", "admin-password")))
        admin.security.put_role(name="english_reader", indices=[{
            "names": ["books"], "privileges": ["read"], "query": {"term": {"lang": "en"}}}])
        admin.security.put_user(username="reader", password="reader-password",
                                roles=["english_reader"])
        reader = Elasticsearch(server.url, basic_auth=("reader", "reader-password"))
        solar = reader.search(index="books", query=nested(
            {"match": {"passages.text": "solar"}}, inner_hits={}))
        assert ids(solar) == ["guide"]  # the German report's solar passage stays hidden
        knn = reader.search(index="books", knn={
            "field": "passages.vector", "query_vector": [0.6, 0.8, 0.0], "k": 3,
            "num_candidates": 10, "inner_hits": {}})
        assert sorted(ids(knn)) == ["guide", "memo"]
        counted = reader.search(index="books", size=0, aggs={
            "p": {"nested": {"path": "passages"}}})
        assert counted["aggregations"]["p"]["doc_count"] == 4
    finally:
        server.stop()


def test_knn_filters_apply_to_objects_or_documents_by_the_fields_they_name(
        books: Elasticsearch) -> None:
    query = [1.0, 0.0, 0.0]  # nearest passages: guide p1, guide p3, report p1, ...
    late_pages = {"range": {"passages.page": {"gte": 2}}}
    top = books.search(index="books", knn={
        "field": "passages.vector", "query_vector": query, "k": 3, "num_candidates": 10,
        "filter": [late_pages, {"term": {"lang": "en"}}], "inner_hits": {}})
    # only pages >= 2 of English documents: the guide's pages 2 and 3 (the memo has none)
    assert ids(top) == ["guide"]
    offsets = [h["_nested"]["offset"] for h in
               top["hits"]["hits"][0]["inner_hits"]["passages"]["hits"]["hits"]]
    assert offsets == [2, 1]
    inside = books.search(index="books", query=nested({"knn": {
        "field": "passages.vector", "query_vector": query, "k": 5, "num_candidates": 10,
        "filter": [late_pages, {"term": {"lang": "de"}}]}}, score_mode="max"))
    assert ids(inside) == ["report"]  # the report's page 5
    assert inside["hits"]["hits"][0]["_score"] == pytest.approx(0.5)
    joined = books.search(index="books", knn={
        "field": "passages.vector", "query_vector": query, "k": 5, "num_candidates": 10,
        "filter": nested({"match": {"passages.text": "offshore"}})})
    assert ids(joined) == ["memo"]  # a nested clause filters the documents
