"""Similarity settings: a tuned BM25 (k1, b) or boolean similarity per field or as the index
default scores exactly as Lucene's, `_explain` shows the parameters, bad settings are refused."""

from __future__ import annotations

import math

import pytest
from elasticsearch import BadRequestError, Elasticsearch

FILLER = " ".join(f"w{i}" for i in range(40))
DOCS = {
    "1": "search engine ranking",            # 3 tokens
    "2": "search search search relevance",   # 4 tokens
    "3": f"search {FILLER}",                 # 41 tokens: Lucene's norm byte decodes to 40
    "4": "unrelated text here",              # 3 tokens
}
DECODED_LENGTH = {"1": 3, "2": 4, "3": 40}   # SmallFloat.intToByte4(41) -> 40 after decoding
TOTAL_TOKENS, DOCS_WITH_FIELD = 3 + 4 + 41 + 3, 4


def lucene(tf: float, dl: int, idf: float, k1: float, b: float) -> float:
    """Elasticsearch's BM25 (LegacyBM25Similarity: the (k1 + 1) factor included)."""
    avgdl = TOTAL_TOKENS / DOCS_WITH_FIELD
    return (k1 + 1) * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))


def idf(doc_freq: int) -> float:
    return math.log(1 + (DOCS_WITH_FIELD - doc_freq + 0.5) / (doc_freq + 0.5))


@pytest.fixture
def tuned(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="tuned", settings={"index": {"similarity": {
        "short_docs": {"type": "BM25", "k1": 2.0, "b": 0.3, "discount_overlaps": False},
        "matches_only": {"type": "boolean"}}}}, mappings={"properties": {
            "body": {"type": "text", "similarity": "short_docs"},
            "flag": {"type": "text", "similarity": "matches_only"},
            "plain": {"type": "text"}}})
    for doc_id, text in DOCS.items():
        es.index(index="tuned", id=doc_id, document={"body": text, "flag": text, "plain": text})
    es.indices.refresh(index="tuned")
    return es


def scores(es: Elasticsearch, index: str, query: dict) -> dict[str, float]:
    hits = es.search(index=index, query=query)["hits"]["hits"]
    return {h["_id"]: h["_score"] for h in hits}


def test_tuned_bm25_field_scores_as_lucene_with_its_k1_and_b(tuned: Elasticsearch) -> None:
    got = scores(tuned, "tuned", {"match": {"body": "search"}})
    expected = {doc_id: lucene(DOCS[doc_id].split().count("search"), dl, idf(3), 2.0, 0.3)
                for doc_id, dl in DECODED_LENGTH.items()}
    assert set(got) == set(expected)
    for doc_id, value in expected.items():
        assert got[doc_id] == pytest.approx(value, rel=1e-6), doc_id
    # the long document is scored with its lossy one-byte length (40), not its 41 tokens
    assert got["3"] != pytest.approx(lucene(1, 41, idf(3), 2.0, 0.3), rel=1e-6)


def test_default_parameters_still_score_as_before(tuned: Elasticsearch) -> None:
    got = scores(tuned, "tuned", {"match": {"plain": "search"}})
    for doc_id, dl in DECODED_LENGTH.items():
        tf = DOCS[doc_id].split().count("search")
        assert got[doc_id] == pytest.approx(lucene(tf, dl, idf(3), 1.2, 0.75), rel=1e-6)


def test_phrase_on_a_tuned_field_sums_the_terms_idf(tuned: Elasticsearch) -> None:
    got = scores(tuned, "tuned", {"match_phrase": {"body": "search engine"}})
    assert got == {"1": pytest.approx(lucene(1, 3, idf(3) + idf(1), 2.0, 0.3), rel=1e-6)}


def test_boolean_similarity_scores_the_query_boost(tuned: Elasticsearch) -> None:
    got = scores(tuned, "tuned", {"match": {"flag": {"query": "search", "boost": 2.5}}})
    assert got == {"1": 2.5, "2": 2.5, "3": 2.5}
    assert scores(tuned, "tuned", {"term": {"flag": "search"}}) == {"1": 1.0, "2": 1.0, "3": 1.0}


def test_bool_query_sums_tuned_and_default_fields(tuned: Elasticsearch) -> None:
    got = scores(tuned, "tuned", {"bool": {"should": [{"match": {"body": "relevance"}},
                                                      {"match": {"plain": "relevance"}}]}})
    assert got["2"] == pytest.approx(lucene(1, 4, idf(1), 2.0, 0.3)
                                     + lucene(1, 4, idf(1), 1.2, 0.75), rel=1e-6)


def test_index_default_similarity_applies_to_fields_without_one(es: Elasticsearch) -> None:
    es.indices.create(index="flat", settings={"index.similarity.default.type": "BM25",
                                              "index.similarity.default.b": 0},
                      mappings={"properties": {"body": {"type": "text"}}})
    for doc_id, text in DOCS.items():
        es.index(index="flat", id=doc_id, document={"body": text})
    es.indices.refresh(index="flat")
    got = scores(es, "flat", {"match": {"body": "search"}})
    # b = 0: no length normalization, so documents with one occurrence tie whatever their length
    assert got["1"] == got["3"] == pytest.approx(lucene(1, 3, idf(3), 1.2, 0.0), rel=1e-6)


def test_explain_shows_the_fields_parameters(tuned: Elasticsearch) -> None:
    explanation = tuned.explain(index="tuned", id="3", query={"match": {"body": "search"}})
    weight = explanation["explanation"]
    assert weight["description"].startswith("weight(body:search in ")
    score = weight["details"][0]
    assert [d["description"] for d in score["details"]][0] == "boost"
    assert score["details"][0]["value"] == pytest.approx(3.0)
    tf = {d["description"].split(",")[0]: d["value"] for d in score["details"][2]["details"]}
    assert (tf["k1"], tf["b"], tf["dl"], tf["avgdl"]) == (2.0, pytest.approx(0.3), 40, 12.75)
    assert weight["value"] == pytest.approx(lucene(1, 40, idf(3), 2.0, 0.3), rel=1e-6)
    boolean = tuned.explain(index="tuned", id="2", query={"match": {"flag": "search"}})
    assert boolean["explanation"]["details"][0]["description"] == \
        "score(BooleanSimilarity), computed from:"


@pytest.mark.parametrize(("settings", "message"), [
    ({"index.similarity.my.k1": 1.0}, "Similarity [my] must have an associated type"),
    ({"index.similarity.my.type": "BM25", "index.similarity.my.k1": -1},
     "illegal k1 value: -1.0, must be a non-negative finite value"),
    ({"index.similarity.my.type": "BM25", "index.similarity.my.b": 1.5},
     "illegal b value: 1.5, must be between 0 and 1"),
    ({"index.similarity.my.type": "BM25", "index.similarity.my.mu": 3},
     "Unknown settings for similarity of type [BM25]: [mu]"),
    ({"index.similarity.my.type": "nope"}, "Unknown Similarity type [nope] for [my]"),
    ({"index.similarity.BM25.type": "BM25"}, "Cannot redefine built-in Similarity [BM25]"),
])
def test_bad_similarity_settings_are_refused(es: Elasticsearch, settings: dict,
                                             message: str) -> None:
    with pytest.raises(BadRequestError) as failure:
        es.indices.create(index="bad-sim", settings=settings)
    assert failure.value.body["error"]["reason"] == message


def test_a_mapping_naming_an_undefined_similarity_is_refused(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as failure:
        es.indices.create(index="bad-map", mappings={"properties": {
            "body": {"type": "text", "similarity": "nope"}}})
    assert failure.value.body["error"]["type"] == "mapper_parsing_exception"
    assert failure.value.body["error"]["reason"] == \
        "Unknown Similarity type [nope] for field [body]"


def test_combined_fields_follows_the_index_default_and_refuses_field_similarities(
        es: Elasticsearch, tuned: Elasticsearch) -> None:
    with pytest.raises(BadRequestError, match="cannot be used with per-field similarities"):
        tuned.search(index="tuned", query={"combined_fields": {"query": "search",
                                                               "fields": ["body", "plain"]}})
    es.indices.create(index="bm25f", settings={"index.similarity.default.type": "BM25",
                                               "index.similarity.default.k1": 2.0,
                                               "index.similarity.default.b": 0.3},
                      mappings={"properties": {"body": {"type": "text"}}})
    for doc_id, text in DOCS.items():
        es.index(index="bm25f", id=doc_id, document={"body": text})
    es.indices.refresh(index="bm25f")
    got = scores(es, "bm25f", {"combined_fields": {"query": "search", "fields": ["body"]}})
    assert got["1"] == pytest.approx(lucene(1, 3, idf(3), 2.0, 0.3), rel=1e-5)


def test_keyword_fields_score_without_length_norms(es: Elasticsearch) -> None:
    es.indices.create(index="tags", settings={"index.similarity.tuned.type": "BM25",
                                              "index.similarity.tuned.k1": 2.0,
                                              "index.similarity.tuned.b": 0.3},
                      mappings={"properties": {"tag": {"type": "keyword",
                                                       "similarity": "tuned"}}})
    es.index(index="tags", id="many", document={"tag": ["a", "b", "c"]})
    es.index(index="tags", id="one", document={"tag": "a"}, refresh=True)
    got = scores(es, "tags", {"term": {"tag": "a"}})
    # keyword fields have no norms: every document has length 1; avgdl = 4 values / 2 docs
    avgdl, idf_a = 4 / 2, math.log(1 + (2 - 2 + 0.5) / (2 + 0.5))
    expected = 3.0 * idf_a * 1 / (1 + 2.0 * (1 - 0.3 + 0.3 * 1 / avgdl))
    assert got == {"many": pytest.approx(expected, rel=1e-6),
                   "one": pytest.approx(expected, rel=1e-6)}
