"""`explain: true` in searches and the `_explain` API: Lucene-shaped explanations whose values
are the hits' scores, for BM25 clauses, compound queries, kNN, hybrid and RRF."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

DOCS = {
    "1": ("the quick brown fox", "fox"),
    "2": ("lazy dog jumps over the fox fox", "dog"),
    "3": ("hello quick world", "quick fox"),
    "4": ("nothing to see here", "none"),
}
KNN = {"field": "vec", "query_vector": [1.0, 1.0], "k": 2, "num_candidates": 10}


@pytest.fixture
def docs(es: Elasticsearch) -> Elasticsearch:
    es.indices.create(index="ex", mappings={"properties": {
        "text": {"type": "text"}, "title": {"type": "text"}, "tag": {"type": "keyword"},
        "n": {"type": "integer"},
        "vec": {"type": "dense_vector", "dims": 2, "similarity": "cosine"}}})
    for i, (doc_id, (text, title)) in enumerate(DOCS.items()):
        es.index(index="ex", id=doc_id, document={
            "text": text, "title": title, "tag": "odd" if i % 2 else "even", "n": i,
            "vec": [1.0, float(i)]})
    es.indices.refresh(index="ex")
    return es


def search(es: Elasticsearch, **body: Any) -> list[dict[str, Any]]:
    hits = es.search(index="ex", explain=True, **body)["hits"]["hits"]
    assert hits
    return hits


def find(expl: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Every node of an explanation tree whose description starts with `prefix`."""
    out = [expl] if expl["description"].startswith(prefix) else []
    for child in expl["details"]:
        out += find(child, prefix)
    return out


def check_sums(expl: dict[str, Any]) -> None:
    """Every `sum of:` equals the sum of its scoring parts; every BM25 score is
    boost * idf * tf."""
    if expl["description"] == "sum of:":
        parts = [d["value"] for d in expl["details"]
                 if d["description"] != "match on required clause, product of:"]
        assert expl["value"] == pytest.approx(sum(parts), rel=1e-6)
    if expl["description"].startswith("score(freq="):
        boost, idf, tf = (d["value"] for d in expl["details"])
        assert expl["value"] == pytest.approx(boost * idf * tf, rel=1e-6)
    for child in expl["details"]:
        check_sums(child)


def test_term_explanation_has_lucene_bm25_structure(docs: Elasticsearch) -> None:
    hits = search(docs, query={"match": {"text": "fox"}})
    for hit in hits:
        expl = hit["_explanation"]
        assert expl["value"] == hit["_score"]
        assert re.fullmatch(r"weight\(text:fox in \d+\) \[PerFieldSimilarity\], result of:",
                            expl["description"])
        [score] = expl["details"]
        assert score["description"].startswith("score(freq=")
        assert score["description"].endswith("), computed as boost * idf * tf from:")
        boost, idf, tf = score["details"]
        assert boost == {"value": 2.2, "description": "boost", "details": []}
        n, total = (d["value"] for d in idf["details"])
        assert (n, total) == (2, 4)
        assert idf["description"] == ("idf, computed as log(1 + (N - n + 0.5) / (n + 0.5)) "
                                      "from:")
        assert idf["value"] == pytest.approx(math.log(1 + (total - n + 0.5) / (n + 0.5)),
                                             rel=1e-6)
        stats = {d["description"].split(",")[0]: d["value"] for d in tf["details"]}
        assert set(stats) == {"freq", "k1", "b", "dl", "avgdl"}
        expected_tf = stats["freq"] / (stats["freq"] + 1.2 * (0.25 + 0.75 * stats["dl"] /
                                                              stats["avgdl"]))
        assert tf["value"] == pytest.approx(expected_tf, rel=1e-6)
        check_sums(expl)
    freqs = {hit["_id"]: hit["_explanation"]["details"][0]["description"] for hit in hits}
    assert freqs["2"].startswith("score(freq=2.0)")


def test_bool_sums_scoring_clauses_and_lists_filters(docs: Elasticsearch) -> None:
    hits = search(docs, query={"bool": {
        "must": [{"match": {"text": {"query": "quick fox", "boost": 2}}}],
        "should": [{"term": {"tag": "even"}}],
        "filter": [{"range": {"n": {"gte": 0, "lt": 3}}}]}})
    for hit in hits:
        expl = hit["_explanation"]
        assert expl["value"] == hit["_score"]
        assert expl["description"] == "sum of:"
        [required] = find(expl, "match on required clause")
        assert required["details"][1]["description"] == "n:[0 TO 3}"
        for weight in find(expl, "weight(text:"):  # the match's boost times k1 + 1
            assert weight["details"][0]["details"][0] == {"value": 4.4, "description": "boost",
                                                          "details": []}
        check_sums(expl)
    first = next(h for h in hits if h["_id"] == "1")
    assert find(first["_explanation"], "weight(tag:even")


def test_multi_match_best_fields_with_tie_breaker(docs: Elasticsearch) -> None:
    hits = search(docs, query={"multi_match": {"query": "fox", "fields": ["text", "title^2"],
                                               "tie_breaker": 0.3}})
    both = next(h for h in hits if h["_id"] == "1")
    expl = both["_explanation"]
    assert expl["description"] == "max plus 0.3 times others of:"
    values = sorted(d["value"] for d in expl["details"])
    assert expl["value"] == both["_score"]
    assert both["_score"] == pytest.approx(values[1] + 0.3 * values[0], rel=1e-6)
    assert find(expl, "weight(title:fox")[0]["details"][0]["details"][0]["value"] == \
        pytest.approx(4.4)


def test_most_fields_phrase_constant_and_function_score(docs: Elasticsearch) -> None:
    hit = search(docs, query={"multi_match": {"query": "fox", "type": "most_fields",
                                              "fields": ["text", "title"]}})[0]
    assert hit["_explanation"]["description"] == "sum of:"
    check_sums(hit["_explanation"])

    hit = search(docs, query={"match_phrase": {"text": "fox fox"}})[0]
    expl = hit["_explanation"]
    assert expl["description"].startswith('weight(text:"fox fox" in ')
    idf = expl["details"][0]["details"][1]
    assert idf["description"] == "idf, sum of:"
    assert idf["value"] == pytest.approx(sum(d["value"] for d in idf["details"]), rel=1e-6)

    hits = search(docs, query={"constant_score": {"filter": {"term": {"tag": "odd"}},
                                                  "boost": 3}})
    assert {h["_explanation"]["description"] for h in hits} == {"ConstantScore(tag:odd)^3.0"}

    hit = search(docs, query={"function_score": {"query": {"match": {"text": "fox"}},
                                                 "functions": [{"weight": 2}]}})[0]
    expl = hit["_explanation"]
    assert expl["description"] == "function score, product of:"
    inner, functions = expl["details"]
    assert inner["description"].startswith("weight(text:fox")
    assert functions["value"] == 2.0
    assert expl["value"] == hit["_score"] == pytest.approx(inner["value"] * 2, rel=1e-6)


def test_combined_fields_value_is_the_score(docs: Elasticsearch) -> None:
    for hit in search(docs, query={"combined_fields": {"query": "fox",
                                                       "fields": ["text", "title"]}}):
        assert hit["_explanation"]["value"] == hit["_score"]
        assert hit["_explanation"]["description"].startswith(
            "weight(CombinedFieldQuery((text title)(fox)) in ")


def test_hits_carry_shard_and_node(docs: Elasticsearch) -> None:
    hit = docs.perform_request("POST", "/ex/_search", params={"explain": "true"},
                               body={"query": {"match": {"text": "fox"}}},
                               headers={"content-type": "application/json"}
                               )["hits"]["hits"][0]
    assert list(hit)[:3] == ["_shard", "_node", "_index"]
    assert hit["_shard"] == "[ex][0]"
    assert isinstance(hit["_node"], str) and hit["_node"]
    plain = docs.search(index="ex", query={"match": {"text": "fox"}})["hits"]["hits"][0]
    assert "_explanation" not in plain and "_shard" not in plain


def test_hybrid_query_and_knn_sum(docs: Elasticsearch) -> None:
    hits = search(docs, query={"match": {"text": "fox"}}, knn=KNN)
    for hit in hits:
        expl = hit["_explanation"]
        assert expl["value"] == hit["_score"]
        check_sums(expl)
    both = [h for h in hits if find(h["_explanation"], "within top k documents") and
            find(h["_explanation"], "weight(")]
    assert both and both[0]["_explanation"]["description"] == "sum of:"
    knn_only = search(docs, knn=KNN)
    assert all(h["_explanation"] == {"value": h["_score"],
                                     "description": "within top k documents", "details": []}
               for h in knn_only)


def test_rrf_retriever_explains_ranks_and_children(docs: Elasticsearch) -> None:
    hits = search(docs, retriever={"rrf": {"rank_constant": 10, "retrievers": [
        {"standard": {"query": {"match": {"text": "quick fox"}}}},
        {"knn": KNN}]}})
    for hit in hits:
        expl = hit["_explanation"]
        assert expl["value"] == hit["_score"]
        assert expl["description"].startswith("rrf score: [")
        assert "] computed for initial ranks [" in expl["description"]
        assert expl["description"].endswith("with rankConstant: [10] as sum of "
                                            "[1 / (rank + rankConstant)] for each query")
        ranks = [d["value"] for d in expl["details"]]
        assert hit["_score"] == pytest.approx(sum(1 / (r + 10) for r in ranks if r), rel=1e-6)
        for i, detail in enumerate(expl["details"]):
            if detail["value"]:
                assert f"for rank [{detail['value']}] in query at index [{i}]" in \
                    detail["description"]
                [child] = detail["details"]
                if i == 1:
                    assert child["description"] == "within top k documents"
            else:
                assert detail["description"] == ("rrf score: [0], result not found in query "
                                                 f"at index [{i}]")
    assert any(find(h["_explanation"], "weight(text:") for h in hits)


def test_explain_api(docs: Elasticsearch) -> None:
    hits = docs.search(index="ex", query={"match": {"text": "fox"}})["hits"]["hits"]
    scores = {h["_id"]: h["_score"] for h in hits}
    resp = docs.explain(index="ex", id="2", query={"match": {"text": "fox"}})
    assert resp["_index"] == "ex" and resp["_id"] == "2" and resp["matched"] is True
    assert resp["explanation"]["value"] == pytest.approx(scores["2"], rel=1e-7)
    assert resp["explanation"]["description"].startswith("weight(text:fox in ")

    missed = docs.explain(index="ex", id="4", query={"match": {"text": "fox"}})
    assert missed["matched"] is False
    assert missed["explanation"]["value"] == 0.0

    by_q = docs.explain(index="ex", id="1", q="quick", df="text")
    assert by_q["matched"] is True

    with pytest.raises(NotFoundError) as err:
        docs.explain(index="ex", id="nope", query={"match_all": {}})
    assert err.value.body == {"_index": "ex", "_id": "nope", "matched": False}
    with pytest.raises(BadRequestError) as err:
        docs.perform_request("POST", "/ex/_explain/1", body={},
                             headers={"content-type": "application/json"})
    assert err.value.error == "action_request_validation_exception"


def test_search_template_explain(docs: Elasticsearch) -> None:
    resp = docs.search_template(index="ex", source={"query": {"match": {"{{f}}": "{{v}}"}}},
                                params={"f": "title", "v": "dog"}, explain=True)
    [hit] = resp["hits"]["hits"]
    assert hit["_explanation"]["description"].startswith("weight(title:dog in ")
    assert hit["_explanation"]["value"] == hit["_score"]


def test_explain_api_respects_document_level_security(tmp_path: Path) -> None:
    from es_rag.engine.server import EngineServer

    server = EngineServer(tmp_path, port=0, elastic_password="explain-pw").start()
    try:
        admin = Elasticsearch(server.url, basic_auth=("elastic", "explain-pw"))
        admin.index(index="s", id="1", document={"text": "fox"}, refresh=True)
        admin.index(index="s", id="2", document={"text": "dog fox"}, refresh=True)
        admin.security.put_role(name="dogs", indices=[{"names": ["s"], "privileges": ["read"],
                                                       "query": {"match": {"text": "dog"}}}])
        admin.security.put_user(username="reader", password="reader-pw", roles=["dogs"])
        reader = Elasticsearch(server.url, basic_auth=("reader", "reader-pw"))
        query = {"match": {"text": "fox"}}
        assert reader.explain(index="s", id="2", query=query)["matched"] is True
        assert admin.explain(index="s", id="1", query=query)["matched"] is True
        with pytest.raises(NotFoundError):
            reader.explain(index="s", id="1", query=query)
    finally:
        server.stop()


def test_rrf_scores_are_float32_sums_and_named_retrievers_are_quoted(docs: Elasticsearch
                                                                     ) -> None:
    hits = search(docs, retriever={"rrf": {"rank_constant": 1, "retrievers": [
        {"standard": {"query": {"match_all": {}}, "sort": [{"n": "desc"}], "_name": "recent"}},
        {"standard": {"query": {"match_all": {}}, "sort": [{"n": "asc"}]}}]}})
    # n = 2 ranks [2, 3]: 1/3 + 1/4 in float32 arithmetic, as Elasticsearch adds them
    [hit] = [h for h in hits if h["_id"] == "3"]
    expl = hit["_explanation"]
    assert hit["_score"] == 0.5833334
    assert expl["description"].startswith("rrf score: [0.5833334] computed for initial ranks")
    first, second = expl["details"]
    assert " in query at index [0] [recent] computed as " in first["description"]
    assert " in query at index [1] computed as " in second["description"]


def test_a_knn_retriever_explains_the_similarity_of_the_vector(docs: Elasticsearch) -> None:
    hits = search(docs, retriever={"rrf": {"retrievers": [
        {"standard": {"query": {"match": {"text": "fox"}}}}, {"knn": KNN}]}})
    knn_parts = [d["details"][0] for h in hits for d in h["_explanation"]["details"][1:]
                 if d["value"]]
    assert knn_parts
    for part in knn_parts:
        assert part["description"] == "within top k documents"
        [exact] = part["details"]
        assert exact["description"].startswith("found vector with calculated similarity: ")
        assert float(exact["description"].rsplit(" ", 1)[1]) == pytest.approx(part["value"])
