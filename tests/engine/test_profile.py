"""The Search Profile API: a developer asks `"profile": true` to see where a search spends its
time; the engine answers Elasticsearch's shape (one shard entry per index with its query tree,
collector, aggregations and fetch), with times it measured, and a reader limited by
document-level security learns nothing more from a profile than from the search itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch, helpers

from es_rag.engine.server import EngineServer

PASSWORD = "profile-admin-pw"
INDEX = "catalog"
OTHER = "catalog-archive"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EngineServer(tmp_path_factory.mktemp("profile"), port=0,
                          elastic_password=PASSWORD).start()
    admin = Elasticsearch(server.url, basic_auth=("elastic", PASSWORD), request_timeout=30)
    mappings = {"properties": {"title": {"type": "text"}, "kind": {"type": "keyword"},
                               "price": {"type": "integer"}, "team": {"type": "keyword"},
                               "vec": {"type": "dense_vector", "dims": 2,
                                       "similarity": "cosine"}}}
    for index in (INDEX, OTHER):
        admin.indices.create(index=index, mappings=mappings)
    helpers.bulk(admin, ({"_index": INDEX if n < 8 else OTHER, "_id": str(n),
                          "title": "red pen" if n % 2 else "red pencil",
                          "kind": "pen" if n % 2 else "pencil", "price": n,
                          "team": "red" if n < 3 else "blue", "vec": [1.0, n + 1.0]}
                         for n in range(10)),
                 refresh=True)
    admin.security.put_role(name="red-reader", indices=[{
        "names": [INDEX], "privileges": ["read"], "query": {"term": {"team": "red"}}}])
    admin.security.put_user(username="reda", password="reda-password", roles=["red-reader"])
    admin.close()
    yield server.url
    server.stop()


@pytest.fixture
def admin(engine: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(engine, basic_auth=("elastic", PASSWORD), request_timeout=30)
    yield client
    client.close()


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("children", []):
        yield from _walk(child)


def _check_times(node: dict[str, Any]) -> None:
    """Every node's time is its breakdown's sum; children never exceed their parent."""
    spent = sum(v for k, v in node["breakdown"].items() if not k.endswith("_count"))
    assert node["time_in_nanos"] == spent
    children = node.get("children", [])
    assert sum(c["time_in_nanos"] for c in children) <= node["time_in_nanos"]
    for child in children:
        _check_times(child)


def test_a_profiled_search_shows_each_index_query_tree_collector_and_fetch(
        admin: Elasticsearch) -> None:
    resp = admin.search(index=f"{INDEX},{OTHER}", profile=True, explain=True, query={"bool": {
        "must": [{"match": {"title": "red"}}], "must_not": [{"term": {"kind": "pen"}}]}})
    assert resp["hits"]["total"]["value"] == 5
    node_id = resp["hits"]["hits"][0]["_node"]  # as `explain` names the node
    shards = resp["profile"]["shards"]
    assert [s["index"] for s in shards] == [OTHER, INDEX]  # in the order of their ids
    for shard in shards:
        assert shard["id"] == f"[{node_id}][{shard['index']}][0]"
        assert (shard["node_id"], shard["shard_id"], shard["cluster"]) == (node_id, 0, "(local)")
        [search] = shard["searches"]
        [top] = search["query"]
        assert top["type"] == "BooleanQuery"
        assert top["description"] == "+title:red -kind:pen"
        assert [(c["type"], c["description"]) for c in top["children"]] == [
            ("TermQuery", "title:red"), ("TermQuery", "kind:pen")]
        assert top["time_in_nanos"] > 0 and top["breakdown"]["create_weight"] > 0
        assert top["breakdown"]["score"] > 0 and top["breakdown"]["create_weight_count"] >= 1
        assert all(c["breakdown"]["create_weight"] > 0 for c in top["children"])
        assert set(top["breakdown"]) >= {"next_doc", "next_doc_count", "advance", "match",
                                         "build_scorer", "score_count", "count_weight"}
        _check_times(top)
        assert search["rewrite_time"] >= 0
        [collector] = search["collector"]
        assert collector["name"] == "SimpleTopScoreDocCollector"
        assert collector["reason"] == "search_top_hits" and collector["time_in_nanos"] > 0
        fetch = shard["fetch"]
        assert (fetch["type"], fetch["description"]) == ("fetch", "")
        assert fetch["time_in_nanos"] > 0
        assert fetch["debug"]["stored_fields"] == ["_id", "_routing", "_source"]
        [source_phase] = fetch["children"]
        assert source_phase["type"] == "FetchSourcePhase"
        assert source_phase["time_in_nanos"] <= fetch["time_in_nanos"]
    counted = {s["index"]: s["searches"][0]["query"][0]["breakdown"]["next_doc_count"]
               for s in shards}
    assert counted == {INDEX: 4, OTHER: 1}  # the pencils of each index


def test_a_search_without_profile_has_none(admin: Elasticsearch) -> None:
    assert "profile" not in admin.search(index=INDEX, query={"match_all": {}})


def test_boosted_and_match_all_queries_are_named_as_lucene_names_them(
        admin: Elasticsearch) -> None:
    plain = admin.search(index=INDEX, profile=True)["profile"]["shards"][0]
    assert plain["searches"][0]["query"][0]["type"] == "MatchAllDocsQuery"
    assert plain["searches"][0]["query"][0]["description"] == "*:*"
    boosted = admin.search(index=INDEX, profile=True, query={
        "term": {"kind": {"value": "pen", "boost": 2.0}}})["profile"]["shards"][0]
    assert boosted["searches"][0]["query"][0]["type"] == "BoostQuery"


def test_knn_searches_are_profiled_as_lucene_knn_queries(admin: Elasticsearch) -> None:
    knn = {"field": "vec", "query_vector": [1.0, 2.0], "k": 3, "num_candidates": 10}
    alone = admin.search(index=f"{INDEX},{OTHER}", profile=True, knn=knn)["profile"]
    for shard in alone["shards"]:
        top = shard["searches"][0]["query"][0]
        assert (top["type"], top["description"]) == ("KnnScoreDocQuery", "ScoreAndDocQuery")
        assert top["breakdown"]["create_weight"] > 0
    hybrid = admin.search(index=f"{INDEX},{OTHER}", profile=True, knn=knn,
                          query={"term": {"kind": "pen"}})["profile"]
    for shard in hybrid["shards"]:  # each index's kNN search counted under its own node
        top = shard["searches"][0]["query"][0]
        assert top["type"] == "BooleanQuery"
        assert [c["type"] for c in top["children"]] == ["TermQuery", "KnnScoreDocQuery"]
        assert top["children"][1]["breakdown"]["create_weight_count"] == 1
        _check_times(top)


def test_profiled_aggregations_are_listed_with_their_aggregator_and_time(
        admin: Elasticsearch) -> None:
    resp = admin.search(index=INDEX, size=0, profile=True, aggs={
        "kinds": {"terms": {"field": "kind"}}, "mean": {"avg": {"field": "price"}},
        "busiest": {"max_bucket": {"buckets_path": "kinds>_count"}}})
    assert resp["aggregations"]["mean"]["value"] == 3.5
    assert resp["aggregations"]["busiest"]["value"] == 4.0
    [shard] = resp["profile"]["shards"]
    listed = {a["description"]: a for a in shard["aggregations"]}
    assert listed["kinds"]["type"] == "GlobalOrdinalsStringTermsAggregator"
    assert listed["mean"]["type"] == "AvgAggregator"
    for agg in listed.values():
        assert agg["time_in_nanos"] > 0
        assert agg["breakdown"]["collect"] == agg["time_in_nanos"]
        assert {"initialize", "build_leaf_collector", "post_collection", "build_aggregation",
                "reduce"} <= set(agg["breakdown"])
    assert "fetch" not in shard  # size 0: nothing fetched


def test_a_restricted_reader_profile_counts_only_documents_it_may_read(engine: str) -> None:
    reda = Elasticsearch(engine, basic_auth=("reda", "reda-password"), request_timeout=30)
    resp = reda.search(index=INDEX, profile=True, query={"match": {"title": "red"}})
    assert resp["hits"]["total"]["value"] == 3
    [shard] = resp["profile"]["shards"]
    top = shard["searches"][0]["query"][0]
    assert top["breakdown"]["next_doc_count"] == 3
    assert top["breakdown"]["score_count"] == 3
    assert top["description"] == "title:red"  # the reader's own query, not the role's
    assert "team" not in str(resp["profile"])
    reda.close()


def test_profile_passes_through_msearch_and_search_templates(admin: Elasticsearch) -> None:
    [first, second] = admin.msearch(searches=[
        {"index": INDEX}, {"profile": True, "query": {"term": {"kind": "pen"}}},
        {"index": INDEX}, {"query": {"term": {"kind": "pen"}}}])["responses"]
    assert first["profile"]["shards"][0]["searches"][0]["query"][0]["type"] == "TermQuery"
    assert "profile" not in second
    templated = admin.search_template(index=INDEX, profile=True, source={
        "query": {"term": {"kind": "{{kind}}"}}}, params={"kind": "pencil"})
    assert templated["profile"]["shards"][0]["index"] == INDEX
    flagged = admin.perform_request(
        "POST", f"/{INDEX}/_search/template", params={"profile": "true"},
        headers={"accept": "application/json", "content-type": "application/json"},
        body={"source": {"query": {"match_all": {}}}})
    assert flagged["profile"]["shards"][0]["index"] == INDEX


def test_profile_with_scroll_profiles_the_first_page(admin: Elasticsearch) -> None:
    resp = admin.search(index=INDEX, scroll="1m", size=2, profile=True)
    assert resp["profile"]["shards"][0]["fetch"]["breakdown"]["load_stored_fields_count"] == 1
    admin.clear_scroll(scroll_id=resp["_scroll_id"])


def test_profile_with_rank_is_refused_as_elasticsearch_refuses_it(admin: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        admin.search(index=INDEX, body={"profile": True, "rank": {"rrf": {}}, "sub_searches": [
            {"query": {"term": {"kind": "pen"}}}, {"query": {"term": {"kind": "pencil"}}}]})
    assert err.value.error == "action_request_validation_exception"
    assert "[rank] requires [profile] is [false]" in str(err.value.info)
    with pytest.raises(BadRequestError):
        admin.search(index=INDEX, body={"profile": "sometimes"})


def test_a_profiled_search_keeps_the_bucket_limit_over_all_its_aggregations(
        admin: Elasticsearch) -> None:
    aggs = {"kinds": {"terms": {"field": "kind", "size": 2}},
            "teams": {"terms": {"field": "team", "size": 2}}}
    admin.cluster.put_settings(transient={"search.max_buckets": 3})
    try:
        assert admin.search(index=INDEX, size=0, aggs={"kinds": aggs["kinds"]}, profile=True)
        with pytest.raises(BadRequestError) as err:  # 2 kinds + 2 teams
            admin.search(index=INDEX, size=0, aggs=aggs, profile=True)
        assert err.value.error == "too_many_buckets_exception"
    finally:
        admin.cluster.put_settings(transient={"search.max_buckets": None})
