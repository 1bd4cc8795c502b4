"""A reader's oversized or over-nested request is refused with Elasticsearch's limit, error type
and message (a 400), never run until it exhausts the engine or fails with a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch

from es_rag.engine.limits import Limits
from es_rag.engine.server import EngineServer


@pytest.fixture
def docs(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="docs", mappings={"properties": {
        "title": {"type": "text"}, "tag": {"type": "keyword"}, "n": {"type": "integer"}}})
    for i in range(30):
        es.index(index="docs", id=str(i), document={"title": f"word{i} common", "tag": f"t{i}",
                                                    "n": i})
    es.indices.refresh(index="docs")
    return es


def refused(call: Any, status: int = 400) -> dict[str, Any]:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.meta.status == status, info.value.body
    error = info.value.body["error"]
    assert "stack_trace" not in error and "Error:" not in error["reason"]
    return error


def nested_bool(depth: int) -> dict[str, Any]:
    query: dict[str, Any] = {"match_all": {}}
    for _ in range(depth - 1):
        query = {"bool": {"must": [query]}}
    return query


def test_queries_nested_deeper_than_max_nested_depth_are_refused(docs: Elasticsearch) -> None:
    assert docs.search(index="docs", query=nested_bool(30))["hits"]["total"]["value"] == 30
    for depth in (31, 300):
        error = refused(lambda d=depth: docs.search(index="docs", query=nested_bool(d)))
        assert error["type"] == "illegal_argument_exception"
        assert error["reason"] == ("The nested depth of the query exceeds the maximum nested "
                                   "depth for queries set in "
                                   "[indices.query.bool.max_nested_depth]")


def test_a_match_query_expanding_beyond_max_clause_count_is_refused(docs: Elasticsearch
                                                                    ) -> None:
    fits = " ".join(f"w{i}" for i in range(4000))
    assert docs.search(index="docs", query={"match": {"title": fits}})["hits"] is not None
    huge = " ".join(f"w{i}" for i in range(200_000))
    for query in ({"match": {"title": huge}}, {"match_phrase": {"title": huge}},
                  {"multi_match": {"query": huge, "fields": ["title"]}},
                  {"combined_fields": {"query": huge, "fields": ["title"]}},
                  {"query_string": {"query": huge, "default_field": "title"}}):
        error = refused(lambda q=query: docs.search(index="docs", query=q))
        assert error["type"] == "illegal_argument_exception"
        assert error["reason"] == "Query rewrite failed: too many clauses"
        assert error["caused_by"] == {
            "type": "too_many_nested_clauses",
            "reason": "Query contains too many nested clauses; maxClauseCount is set to 4096"}


def test_a_bool_with_more_clauses_than_max_clause_count_is_refused(docs: Elasticsearch) -> None:
    should = [{"term": {"tag": f"t{i}"}} for i in range(5000)]
    error = refused(lambda: docs.search(index="docs", query={"bool": {"should": should}}))
    assert error["caused_by"]["type"] == "too_many_nested_clauses"


def test_terms_beyond_max_terms_count_are_refused(es: Elasticsearch) -> None:
    es.indices.create(index="small", settings={"index.max_terms_count": 5})
    error = refused(lambda: es.search(index="small", query={"terms": {"tag": list("abcdef")}}))
    assert error["type"] == "query_shard_exception"
    assert "[index.max_terms_count]" in error["reason"]


@pytest.mark.parametrize("query", [
    {"wildcard": {"tag": "a" * 1001}},
    {"prefix": {"tag": "a" * 1001}},
    {"term": {"tag": {"value": "a" * 1001, "case_insensitive": True}}},
    {"query_string": {"query": "a" * 1001 + "*", "default_field": "tag"}},
])
def test_patterns_longer_than_max_regex_length_are_refused(docs: Elasticsearch,
                                                           query: dict[str, Any]) -> None:
    error = refused(lambda: docs.search(index="docs", query=query))
    assert error["type"] == "query_shard_exception"
    assert error["reason"] == (
        "failed to create query: The length of regex [1001] used in the Regexp Query request "
        "has exceeded the allowed maximum of [1000]. This maximum can be set by changing the "
        "[index.max_regex_length] index level setting.")


def test_max_regex_length_is_an_index_setting(es: Elasticsearch) -> None:
    es.indices.create(index="strict", settings={"index.max_regex_length": 10},
                      mappings={"properties": {"tag": {"type": "keyword"}}})
    assert es.search(index="strict", query={"prefix": {"tag": "a" * 10}})["hits"] is not None
    error = refused(lambda: es.search(index="strict", query={"prefix": {"tag": "a" * 11}}))
    assert "The length of regex [11]" in error["reason"]


def test_a_pattern_too_complex_to_compile_is_a_400(docs: Elasticsearch) -> None:
    error = refused(lambda: docs.search(index="docs", query={"wildcard": {"tag": "?" * 999}}))
    assert error["type"] == "query_shard_exception"
    assert "would result in more than [1000] states" in error["reason"]


def nested_aggs(depth: int) -> dict[str, Any]:
    aggs: dict[str, Any] = {"leaf": {"max": {"field": "n"}}}
    for level in range(depth - 1):
        aggs = {f"level{level}": {"terms": {"field": "tag"}, "aggs": aggs}}
    return aggs


def test_sub_aggregations_nested_too_deep_are_refused(docs: Elasticsearch) -> None:
    assert "aggregations" in docs.search(index="docs", size=0, aggs=nested_aggs(5))
    error = refused(lambda: docs.search(index="docs", size=0, aggs=nested_aggs(200)))
    assert error["type"] == "illegal_argument_exception"
    assert "[engine.aggs.max_depth]" in error["reason"]


def test_a_terms_size_beyond_max_buckets_is_refused(docs: Elasticsearch) -> None:
    error = refused(lambda: docs.search(index="docs", size=0, aggs={
        "tags": {"terms": {"field": "tag", "size": 100_000}}}))
    assert error["type"] == "too_many_buckets_exception"
    assert error["max_buckets"] == 65536
    assert error["reason"] == (
        "Trying to create too many buckets. Must be less than or equal to: [65536] but this "
        "number of buckets was exceeded. This limit can be set by changing the "
        "[search.max_buckets] cluster level setting.")


@pytest.fixture
def few_buckets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Elasticsearch]:
    server = EngineServer(tmp_path_factory.mktemp("few-buckets"), port=0, security=False,
                          limits=Limits(max_buckets=10)).start()
    client = Elasticsearch(server.url)
    yield client
    client.close()
    server.stop()


def test_responses_with_more_buckets_than_max_buckets_are_refused(few_buckets: Elasticsearch
                                                                  ) -> None:
    for i in range(6):
        few_buckets.index(index="d", id=str(i), document={"a": f"a{i}", "b": f"b{i % 3}"})
    few_buckets.indices.refresh(index="d")
    result = few_buckets.search(index="d", size=0, aggs={"a": {"terms": {"field": "a.keyword"}}})
    assert len(result["aggregations"]["a"]["buckets"]) == 6
    error = refused(lambda: few_buckets.search(index="d", size=0, aggs={
        "a": {"terms": {"field": "a.keyword"}, "aggs": {"b": {"terms": {"field": "b.keyword"}}}}}))
    assert error["type"] == "too_many_buckets_exception" and error["max_buckets"] == 10


def test_mustache_sections_nested_too_deep_are_refused(es: Elasticsearch) -> None:
    source = "{{#a}}" * 3000 + "{}" + "{{/a}}" * 3000
    error = refused(lambda: es.render_search_template(source=source, params={"a": True}))
    assert error["type"] == "script_exception"
    assert "[engine.mustache.max_depth]" in error["reason"]


def test_a_mustache_render_that_multiplies_is_stopped(es: Elasticsearch) -> None:
    source = '{"query": {"match_all": {}}, "size": 1{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{/a}}' \
             '{{/a}}{{/a}}{{/a}}{{/a}}}'
    error = refused(lambda: es.render_search_template(source=source,
                                                      params={"a": list(range(1000))}))
    assert error["type"] == "script_exception"
    assert "[engine.mustache.max_output]" in error["reason"]


def test_mustache_sources_beyond_script_max_size_are_refused(es: Elasticsearch) -> None:
    source = '{"query": {"match": {"title": "' + "x " * 40_000 + '"}}}'
    error = refused(lambda: es.render_search_template(source=source))
    assert error["type"] == "illegal_argument_exception"
    assert error["reason"].startswith("exceeded max allowed inline script size in bytes [65535] "
                                      "with size [80")


def deep_object(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_documents_nested_beyond_the_mapping_depth_limit_are_refused(es: Elasticsearch
                                                                     ) -> None:
    es.index(index="deep", id="ok", document=deep_object(20))
    error = refused(lambda: es.index(index="deep", id="1", document=deep_object(900)))
    assert error["type"] == "document_parsing_exception"
    assert error["reason"].startswith("Limit of mapping depth [20] has been exceeded due to "
                                      "object field [a.a.a.")
    result = es.bulk(operations=[{"index": {"_index": "deep", "_id": "2"}}, deep_object(900),
                                 {"index": {"_index": "deep", "_id": "3"}}, {"title": "fine"}])
    statuses = [item["index"]["status"] for item in result["items"]]
    assert statuses == [400, 201]


def test_deeply_nested_requests_elsewhere_are_a_400_not_a_500(es: Elasticsearch) -> None:
    error = refused(lambda: es.ingest.simulate(
        pipeline={"processors": [{"set": {"field": "x", "value": deep_object(900)}}]},
        docs=[{"_source": {}}]))
    assert error["type"] == "illegal_argument_exception"
    rendered = es.render_search_template(source="{{#toJson}}p{{/toJson}}",
                                         params={"p": deep_object(400)})
    assert rendered["template_output"]["a"]["a"]["a"] is not None


def test_highlighting_a_field_longer_than_max_analyzed_offset_is_refused(es: Elasticsearch
                                                                        ) -> None:
    es.indices.create(index="long", settings={"index.highlight.max_analyzed_offset": 1000})
    es.index(index="long", id="1", document={"body": "needle " + "hay " * 1000}, refresh=True)
    search = {"index": "long", "query": {"match": {"body": "needle"}}}
    error = refused(lambda: es.search(**search, highlight={"fields": {"body": {}}}))
    assert error["type"] == "illegal_argument_exception"
    assert error["reason"].startswith("The length [4007] of field [body] in doc[0]/index[long] "
                                      "exceeds the [index.highlight.max_analyzed_offset] limit "
                                      "[1000].")
    hit = es.search(**search, highlight={"fields": {"body": {}}, "max_analyzed_offset": 20})
    assert hit["hits"]["hits"][0]["highlight"]["body"][0].startswith("<em>needle</em>")


def test_buckets_merged_over_several_indices_count_against_max_buckets(
        few_buckets: Elasticsearch) -> None:
    for index in ("x1", "x2"):
        for i in range(3):
            few_buckets.index(index=index, id=str(i), document={"a": f"{index}-{i}"})
    few_buckets.indices.refresh(index="x1,x2")
    aggs = {"a": {"terms": {"field": "a.keyword", "size": 6}},
            "b": {"terms": {"field": "a.keyword", "size": 6}}}
    assert few_buckets.search(index="x1", size=0, aggs=aggs)["aggregations"] is not None
    error = refused(lambda: few_buckets.search(index="x1,x2", size=0, aggs=aggs))
    assert error["type"] == "too_many_buckets_exception"


def test_stored_scripts_beyond_script_max_size_are_refused(es: Elasticsearch) -> None:
    source = '{"query": {"match": {"title": "' + "x " * 40_000 + '"}}}'
    error = refused(lambda: es.put_script(id="huge", script={"lang": "mustache",
                                                             "source": source}))
    assert error["type"] == "illegal_argument_exception"
    assert error["reason"] == (f"exceeded max allowed stored script size in bytes [65535] with "
                               f"size [{len(source)}] for script [huge]")
