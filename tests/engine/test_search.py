"""Search: BM25 scores equal to Lucene's formula, query DSL, sorting, paging, highlight, aggs."""

from __future__ import annotations

import math

import pytest
from elasticsearch import BadRequestError, Elasticsearch

CORPUS = {
    "1": "the quick brown fox jumps over the lazy dog",
    "2": "quick quick thinking",
    "3": "a lazy afternoon with a brown dog",
    "4": "foxes are quick and clever animals",
}


@pytest.fixture
def animals(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="animals", mappings={"properties": {
        "text": {"type": "text"},
        "english": {"type": "text", "analyzer": "english"},
        "rank": {"type": "integer"}, "tag": {"type": "keyword"}, "born": {"type": "date"}}})
    for i, (doc_id, text) in enumerate(CORPUS.items()):
        es.index(index="animals", id=doc_id, document={
            "text": text, "english": text, "rank": i, "tag": "odd" if i % 2 else "even",
            "born": f"202{i}-01-01"})
    es.indices.refresh(index="animals")
    return es


def lucene_bm25(tf: int, dl: int, avgdl: float, df: int, n: int) -> float:
    """Lucene's BM25 (k1=1.2, b=0.75) as Elasticsearch reports it, (k1+1) factor included."""
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return 2.2 * idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))


def test_bm25_score_equals_lucene_formula(animals: Elasticsearch) -> None:
    hits = animals.search(index="animals", query={"match": {"text": "quick"}})["hits"]["hits"]
    lengths = {i: len(t.split()) for i, t in CORPUS.items()}
    avgdl = sum(lengths.values()) / len(lengths)
    expected = {i: lucene_bm25(t.split().count("quick"), lengths[i], avgdl, 3, 4)
                for i, t in CORPUS.items() if "quick" in t.split()}
    assert {h["_id"] for h in hits} == set(expected)
    for hit in hits:  # Lucene stores lengths in one byte: exact for these small lengths
        assert hit["_score"] == pytest.approx(expected[hit["_id"]], rel=1e-6)
    assert hits[0]["_id"] == "2"


def test_match_operator_and_minimum_should_match(animals: Elasticsearch) -> None:
    def ids(query: dict) -> set[str]:
        return {h["_id"] for h in animals.search(index="animals", query=query)["hits"]["hits"]}
    assert ids({"match": {"text": {"query": "quick dog", "operator": "and"}}}) == {"1"}
    assert ids({"match": {"text": {"query": "quick lazy dog",
                                   "minimum_should_match": 2}}}) == {"1", "3"}
    assert ids({"match": {"text": {"query": "quikc", "fuzziness": "AUTO"}}}) == {"1", "2", "4"}
    assert ids({"match_phrase": {"text": "brown fox"}}) == {"1"}
    assert ids({"match_phrase": {"text": {"query": "lazy dog", "slop": 4}}}) == {"1", "3"}


def test_english_analyzer_stems_and_drops_stop_words(animals: Elasticsearch) -> None:
    hits = animals.search(index="animals", query={"match": {"english": "fox"}})["hits"]["hits"]
    assert {h["_id"] for h in hits} == {"1", "4"}  # "foxes" is stemmed to "fox"
    none = animals.search(index="animals", query={"match": {"english": "the and"}})
    assert none["hits"]["total"]["value"] == 0


def test_multi_match_bool_and_term_level(animals: Elasticsearch) -> None:
    best = animals.search(index="animals", query={"multi_match": {
        "query": "quick", "fields": ["text^2", "english"], "tie_breaker": 0.3}})
    plain = animals.search(index="animals", query={"match": {"text": "quick"}})
    assert best["hits"]["hits"][0]["_id"] == "2"
    assert best["hits"]["max_score"] > 2 * plain["hits"]["max_score"]
    result = animals.search(index="animals", query={"bool": {
        "must": [{"match": {"text": "quick"}}],
        "filter": [{"term": {"tag": "even"}}],
        "must_not": [{"ids": {"values": ["4"]}}]}})
    assert [h["_id"] for h in result["hits"]["hits"]] == ["1"]
    ranged = animals.search(index="animals", query={"range": {"born": {"gte": "2022-01-01"}}})
    assert {h["_id"] for h in ranged["hits"]["hits"]} == {"3", "4"}
    assert ranged["hits"]["hits"][0]["_score"] == 1.0
    exists = animals.count(index="animals", query={"exists": {"field": "tag"}})
    assert exists["count"] == 4
    prefix = animals.count(index="animals", query={"prefix": {"tag": "od"}})
    assert prefix["count"] == 2
    terms = animals.count(index="animals", query={"terms": {"rank": [0, 3]}})
    assert terms["count"] == 2


def test_sort_paging_search_after_and_total_hits(animals: Elasticsearch) -> None:
    page = animals.search(index="animals", sort=[{"rank": "desc"}], size=2)
    assert [h["_id"] for h in page["hits"]["hits"]] == ["4", "3"]
    assert page["hits"]["hits"][0]["sort"] == [3] and page["hits"]["max_score"] is None
    after = animals.search(index="animals", sort=[{"rank": "desc"}], size=2,
                           search_after=page["hits"]["hits"][-1]["sort"])
    assert [h["_id"] for h in after["hits"]["hits"]] == ["2", "1"]
    second = animals.search(index="animals", sort=[{"tag": "asc"}, {"rank": "asc"}], from_=1,
                            size=1)
    assert second["hits"]["hits"][0]["_id"] == "3"
    capped = animals.search(index="animals", track_total_hits=2)
    assert capped["hits"]["total"] == {"value": 2, "relation": "gte"}
    assert "total" not in animals.search(index="animals", track_total_hits=False)["hits"]


def test_source_filtering_highlight_and_aggs(animals: Elasticsearch) -> None:
    result = animals.search(index="animals", query={"match": {"text": "brown dog"}},
                            source_includes=["tag"],
                            highlight={"fields": {"text": {}}, "pre_tags": ["["],
                                       "post_tags": ["]"]},
                            aggs={"tags": {"terms": {"field": "tag"}},
                                  "top": {"max": {"field": "rank"}}})
    first = result["hits"]["hits"][0]
    assert set(first["_source"]) == {"tag"}
    assert "[brown]" in first["highlight"]["text"][0] and "[dog]" in first["highlight"]["text"][0]
    buckets = {b["key"]: b["doc_count"] for b in result["aggregations"]["tags"]["buckets"]}
    assert buckets == {"even": 2}
    assert result["aggregations"]["top"]["value"] == 2.0


def test_msearch_answers_each_search(animals: Elasticsearch) -> None:
    responses = animals.msearch(searches=[
        {"index": "animals"}, {"query": {"match": {"text": "fox"}}},
        {"index": "missing"}, {"query": {"match_all": {}}},
    ])["responses"]
    assert responses[0]["hits"]["total"]["value"] == 1
    assert responses[1]["error"]["type"] == "index_not_found_exception"


def test_unknown_and_unsupported_clauses_are_refused(animals: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        animals.search(index="animals", query={"matchh": {"text": "x"}})
    assert err.value.error == "parsing_exception"
    assert "unknown query [matchh]" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        animals.search(index="animals", query={"more_like_this": {"like": "x"}})
    assert "not supported" in str(err.value)
    with pytest.raises(BadRequestError) as err:
        animals.search(index="animals", body={"query": {"match_all": {}}, "colour": 1})
    assert "Unknown key for a VALUE_STRING in [colour]" in str(err.value)
    with pytest.raises(BadRequestError) as err:  # never silently ignored
        animals.search(index="animals", query={"match_all": {}}, script_fields={})
    assert "[script_fields] is not supported" in str(err.value)


def test_a_search_after_date_the_sort_format_cannot_read_is_a_400(es: Elasticsearch) -> None:
    es.index(index="events", id="1", document={"at": "2021-02-11T08:30:04.828Z"}, refresh=True)
    with pytest.raises(BadRequestError, match="failed to parse date field"):
        es.search(index="events", sort=[{"at": {"order": "asc", "format": "epoch_millis"}}],
                  search_after=["2021-02-11T08:30:04.828Z"])


def test_docvalue_fields_beyond_the_index_limit_are_refused(es: Elasticsearch) -> None:
    es.indices.create(index="wide", settings={"index.max_docvalue_fields_search": 2})
    es.index(index="wide", id="1", document={"a": 1, "b": 2, "c": 3}, refresh=True)
    assert es.search(index="wide", docvalue_fields=["a", "b"])["hits"]["hits"][0]["fields"] == \
        {"a": [1], "b": [2]}
    with pytest.raises(BadRequestError, match=r"Trying to retrieve too many docvalue_fields\. "
                                              r"Must be less than or equal to: \[2\] but was "
                                              r"\[3\]"):
        es.search(index="wide", docvalue_fields=["*"])


def test_count_with_min_score_counts_only_documents_scoring_enough(es: Elasticsearch) -> None:
    es.index(index="notes", id="1", document={"text": "foo bar"})
    es.index(index="notes", id="2", document={"text": "foo bar bar bar bar"}, refresh=True)
    scores = sorted(h["_score"] for h in es.search(
        index="notes", query={"match": {"text": "foo"}})["hits"]["hits"])
    between = (scores[0] + scores[1]) / 2
    assert es.count(index="notes", q="text:foo")["count"] == 2
    assert es.count(index="notes", q="text:foo", min_score=between)["count"] == 1
    assert es.count(index="notes", q="text:foo", min_score=scores[1] + 1)["count"] == 0


def test_stored_fields_none_leaves_out_id_and_source(es: Elasticsearch) -> None:
    es.index(index="plain", id="1", document={"foo": "bar"}, refresh=True)
    [hit] = es.search(index="plain", stored_fields=[])["hits"]["hits"]
    assert hit["_id"] == "1" and "_source" not in hit
    [hit] = es.search(index="plain", stored_fields="_none_")["hits"]["hits"]
    assert "_id" not in hit and "_source" not in hit and hit["_index"] == "plain"
    with pytest.raises(BadRequestError, match="cannot be disabled if \\[_source\\] is requested"):
        es.search(index="plain", stored_fields=["_none_"], source=True)


def test_q_url_parameter_takes_the_urls_query_string_options(es: Elasticsearch) -> None:
    es.index(index="qs", id="1", document={"field": "foo bar", "other": "xyz"}, refresh=True)

    def total(**params: object) -> int:
        return es.search(index="qs", **params)["hits"]["total"]["value"]

    assert total(q="field:foo field:xyz") == 1
    assert total(q="field:foo field:xyz", default_operator="AND") == 0
    assert total(q="xyz", df="field") == 0 and total(q="xyz", df="other") == 1
    assert es.count(index="qs", q="xyz", df="field")["count"] == 0
    assert es.count(index="qs", q="foo baz", default_operator="AND")["count"] == 0
