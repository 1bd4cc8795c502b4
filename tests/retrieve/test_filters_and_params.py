"""Filters typed from CLI strings, search parameters with clear errors, and the request bodies."""

from __future__ import annotations

import pytest

from es_rag.retrieve import (
    Eq,
    Exists,
    FilterError,
    In,
    Mode,
    Not,
    Prefix,
    Range,
    SearchParams,
    parse_filter,
)
from es_rag.retrieve.queries import (
    bm25_body,
    knn_body,
    leg_bodies,
    rank_rrf_body,
    retriever_body,
)


@pytest.mark.parametrize("text, expected", [
    ("metadata.lang=en", Eq("metadata.lang", "en")),
    ("metadata.lang != en", Not(Eq("metadata.lang", "en"))),
    ("page>=3", Range("page", gte=3)),
    ("page > 3", Range("page", gt=3)),
    ("page<10", Range("page", lt=10)),
    ("page<=2.5", Range("page", lte=2.5)),
    ("updated_at>=2024-01-31", Range("updated_at", gte="2024-01-31")),
    ("mime_type in [text/html, application/pdf]",
     In("mime_type", ("text/html", "application/pdf"))),
    ("mime_type not in [text/html]", Not(In("mime_type", ("text/html",)))),
    ("metadata.reviewed exists", Exists("metadata.reviewed")),
    ("metadata.reviewed !exists", Not(Exists("metadata.reviewed"))),
    ("source^=docs/guide", Prefix("source", "docs/guide")),
    ("not page>=3", Not(Range("page", gte=3))),
    ('metadata.version="3"', Eq("metadata.version", "3")),
])
def test_cli_filter_strings_parse_to_typed_filters(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


def test_filters_compile_to_elasticsearch_clauses() -> None:
    assert parse_filter("page>=3").to_query() == {"range": {"page": {"gte": 3}}}
    assert parse_filter("a in [x, 2]").to_query() == {"terms": {"a": ["x", 2]}}
    assert parse_filter("a !exists").to_query() == {
        "bool": {"must_not": [{"exists": {"field": "a"}}]}}
    assert parse_filter("source^=docs/").to_query() == {"prefix": {"source": "docs/"}}


@pytest.mark.parametrize("bad", ["page", "page >= ", "a in []", "9x=1", "=x"])
def test_unparseable_filters_name_the_accepted_syntax(bad: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(bad)
    assert "filter" in str(err.value)


def test_unknown_mode_lists_the_accepted_modes() -> None:
    with pytest.raises(ValueError, match=r"accepted: bm25, knn, hybrid, hybrid\+rerank"):
        SearchParams(mode="semantic")  # type: ignore[arg-type]


def test_params_from_cli_strings() -> None:
    params = SearchParams.from_cli(mode="hybrid+rerank", size="5", boosts="title^3,text",
                                   filters=["metadata.lang=en", "page>=2"], explain="true",
                                   rerank_top_n="20", similarity="0.3")
    assert params.mode is Mode.HYBRID_RERANK
    assert params.size == 5 and params.explain is True and params.similarity == 0.3
    assert params.boosts == {"title": 3.0, "text": 1.0}
    assert params.filters == (Eq("metadata.lang", "en"), Range("page", gte=2))
    assert params.rerank.top_n == 20 and params.fetch_size == 20


def test_defaults_suit_rag() -> None:
    params = SearchParams()
    assert params.mode is Mode.HYBRID
    assert (params.rank_constant, params.rank_window_size) == (60, 100)
    assert params.boosts == {"text": 1.0, "title": 1.0, "headings": 1.0}


@pytest.mark.parametrize("options, message", [
    ({"size": "0"}, "size must be at least 1"),
    ({"size": "ten"}, "not a number"),
    ({"k": 50, "num_candidates": 10}, "num_candidates"),
    ({"boosts": "body^2"}, "cannot boost field 'body'"),
    ({"boosts": "title^-1"}, "must be positive"),
    ({"size": 20, "rank_window_size": 10}, "rank_window_size"),
    ({"colour": "red"}, "unknown search option 'colour'"),
    ({"rerank_depth": 3}, "unknown rerank option"),
])
def test_bad_params_are_refused_with_the_reason(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchParams.from_cli(**options)


def test_filters_go_inside_both_legs_never_after() -> None:
    params = SearchParams(filters=("metadata.lang=en",))
    clause = {"term": {"metadata.lang": "en"}}
    bm25, knn = leg_bodies("q", [0.1, 0.2], params)
    assert bm25["query"]["bool"]["filter"] == [clause]
    assert knn["knn"]["filter"] == {"bool": {"filter": [clause]}}
    assert "post_filter" not in bm25 and "post_filter" not in knn
    body = retriever_body("q", [0.1, 0.2], params)
    standard, knn_retriever = body["retriever"]["rrf"]["retrievers"]
    assert standard["standard"]["query"]["bool"]["filter"] == [clause]
    assert knn_retriever["knn"]["filter"] == {"bool": {"filter": [clause]}}


def test_bodies_set_rrf_window_and_constant_explicitly() -> None:
    params = SearchParams(rank_constant=20, rank_window_size=50)
    rrf = retriever_body("q", [0.0], params)["retriever"]["rrf"]
    assert (rrf["rank_constant"], rrf["rank_window_size"]) == (20, 50)
    assert rank_rrf_body("q", [0.0], params)["rank"] == {
        "rrf": {"rank_constant": 20, "rank_window_size": 50}}
    assert rank_rrf_body("q", [0.0], params, window_key="window_size")["rank"]["rrf"][
        "window_size"] == 50
    # each hybrid leg contributes its top rank_window_size
    bm25, knn = leg_bodies("q", [0.0], params)
    assert bm25["size"] == 50 and knn["size"] == 50 and knn["knn"]["k"] == 50


def test_bm25_body_boosts_fields_and_knn_body_sets_the_floor() -> None:
    params = SearchParams(mode="bm25", boosts={"title": 2, "text": 1})
    mm = bm25_body("rank fusion", params)["query"]["multi_match"]
    assert mm == {"query": "rank fusion", "type": "best_fields", "tie_breaker": 0.3,
                  "fields": ["title^2", "text^1"]}
    knn = knn_body("q", [1.0], SearchParams(mode="knn", k=7, size=5,
                                            num_candidates=70, similarity=0.4))["knn"]
    assert (knn["k"], knn["num_candidates"], knn["similarity"]) == (7, 70, 0.4)
    assert knn_body("q", [1.0], SearchParams(mode="knn"))["_source"] == {
        "excludes": ["embedding"]}
