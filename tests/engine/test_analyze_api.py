"""The `_analyze` API and `include_defaults` on index settings."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, BadRequestError, Elasticsearch


def test_standard_tokens_with_offsets_types_and_positions(es: Elasticsearch) -> None:
    resp = es.indices.analyze(analyzer="standard", text="Don't stop, it's 3.14")
    assert resp["tokens"] == [
        {"token": "don't", "start_offset": 0, "end_offset": 5, "type": "<ALPHANUM>",
         "position": 0},
        {"token": "stop", "start_offset": 6, "end_offset": 10, "type": "<ALPHANUM>",
         "position": 1},
        {"token": "it's", "start_offset": 12, "end_offset": 16, "type": "<ALPHANUM>",
         "position": 2},
        {"token": "3.14", "start_offset": 17, "end_offset": 21, "type": "<NUM>", "position": 3},
    ]


def test_english_drops_stop_words_and_stems_and_arrays_are_gapped(es: Elasticsearch) -> None:
    resp = es.indices.analyze(analyzer="english", text=["the runners", "ran"])
    assert [(t["token"], t["position"], t["start_offset"]) for t in resp["tokens"]] == [
        ("runner", 1, 4), ("ran", 102, 12)]


def test_a_field_uses_its_mapping_analyzer(es: Elasticsearch) -> None:
    es.indices.create(index="docs", mappings={"properties": {
        "title": {"type": "text", "analyzer": "whitespace"}, "tag": {"type": "keyword"}}})
    tokens = es.indices.analyze(index="docs", field="title", text="Big Cats")["tokens"]
    assert [(t["token"], t["type"]) for t in tokens] == [("Big", "word"), ("Cats", "word")]
    assert [t["token"] for t in es.indices.analyze(index="docs", field="tag",
                                                   text="Big Cats")["tokens"]] == ["Big Cats"]


def test_explain_details_the_analyzer_tokens(es: Elasticsearch) -> None:
    detail = es.indices.analyze(analyzer="standard", text="Hi", explain=True)["detail"]
    assert detail == {"custom_analyzer": False, "analyzer": {"name": "standard", "tokens": [
        {"token": "hi", "start_offset": 0, "end_offset": 2, "type": "<ALPHANUM>", "position": 0,
         "bytes": "[68 69]", "positionLength": 1, "termFrequency": 1}]}}


def test_the_index_token_limit_and_unknown_analyzers(es: Elasticsearch) -> None:
    es.indices.create(index="small", settings={"index.analyze.max_token_count": 2})
    assert len(es.indices.analyze(index="small", text="one two")["tokens"]) == 2
    with pytest.raises(ApiError, match="exceeded the allowed maximum of \\[2\\]"):
        es.indices.analyze(index="small", text="one two three")
    with pytest.raises(BadRequestError, match="failed to find global analyzer \\[nope\\]"):
        es.indices.analyze(analyzer="nope", text="x")
    with pytest.raises(BadRequestError, match="not supported by the embedded engine"):
        es.indices.analyze(tokenizer="standard", filter=["lowercase"], text="x")


def test_include_defaults_lists_the_settings_an_index_does_not_set(es: Elasticsearch) -> None:
    es.indices.create(index="logs", settings={"index.refresh_interval": "5s"})
    plain = es.indices.get_settings(index="logs", flat_settings=True)["logs"]
    assert "defaults" not in plain
    got = es.indices.get_settings(index="logs", flat_settings=True, include_defaults=True)
    defaults = got["logs"]["defaults"]
    assert defaults["index.max_result_window"] == "10000"
    assert "index.refresh_interval" not in defaults  # set on the index
    nested = es.indices.get(index="logs", include_defaults=True)["logs"]["defaults"]
    assert nested["index"]["max_result_window"] == "10000"
    assert es.indices.get_settings(index="logs", name="index.max_re*", include_defaults=True,
                                   flat_settings=True)["logs"]["defaults"] == {
        "index.max_result_window": "10000", "index.max_rescore_window": "10000",
        "index.max_regex_length": "1000"}
