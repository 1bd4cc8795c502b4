"""Searching a real chunk index over HTTP: bm25, knn, hybrid on every RRF path, filters, rerank."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities
from es_rag.retrieve import (
    EmbeddingReranker,
    SearchError,
    SearchParams,
    rrf_fuse,
    search,
    search_template,
    template_params,
)
from retrieve.corpus import CORPUS, corpus_client, set_license, shared_embedder

INDEX = "retrieve-chunks"
QUERY = "how does rank fusion merge the BM25 and vector rankings"


@pytest.fixture(scope="module")
def client(engine: Any) -> Iterator[Elasticsearch]:
    """A client with the corpus indexed once for this module (and the license put back after)."""
    yield from corpus_client(engine.url, INDEX)


def _caps(es: Elasticsearch, license_type: str) -> Capabilities:
    return set_license(es, license_type)


@pytest.fixture(scope="module")
def embedder() -> Any:
    return shared_embedder()


def _ids(result: Any) -> list[str]:
    return [h.chunk_id for h in result.hits]


def test_bm25_puts_the_exact_lexical_match_first(client, embedder) -> None:
    caps = _caps(client, "trial")
    result = search(client, caps, INDEX, "ERR_4711", SearchParams(mode="bm25"), None)
    assert result.path_used == "bm25"
    assert _ids(result)[0] == "storage#0"
    top = result.hits[0]
    assert (top.bm25_rank, top.bm25_score) == (1, top.score)
    assert top.source == "manuals/guide.md" and top.page == 1 and top.offsets["start"] == 0


def test_knn_finds_the_semantic_match_without_shared_words(client, embedder) -> None:
    caps = _caps(client, "trial")
    result = search(client, caps, INDEX, "How can I extend my laptop battery life?",
                    SearchParams(mode="knn", size=3), embedder)
    assert result.path_used == "knn"
    assert _ids(result)[0] == "power#0"
    assert result.hits[0].knn_rank == 1 and result.hits[0].knn_score > result.hits[1].knn_score
    assert "embed_ms" in result.explain


def _expected_rrf(client: Elasticsearch, caps: Capabilities, embedder: Any,
                  params: SearchParams) -> list[tuple[str, float]]:
    """RRF computed independently from the two legs searched one by one."""
    window = params.rank_window_size
    bm25 = search(client, caps, INDEX, QUERY, params.with_(mode="bm25", size=window), None)
    knn = search(client, caps, INDEX, QUERY,
                 params.with_(mode="knn", size=window, k=window,
                              num_candidates=max(params.num_candidates, window)), embedder)
    return rrf_fuse([_ids(bm25), _ids(knn)], rank_constant=params.rank_constant)


def _assert_matches_rrf(result: Any, expected: list[tuple[str, float]], size: int) -> None:
    scores = dict(expected)
    for hit in result.hits:
        assert hit.fused_score == pytest.approx(scores[hit.chunk_id], rel=1e-5)
        assert hit.score == hit.fused_score
    # the same top documents (ties at the cut may be broken differently)
    assert sorted(h.fused_score for h in result.hits) == pytest.approx(
        sorted(s for _, s in expected[:size]), rel=1e-5)
    assert result.hits[0].chunk_id == expected[0][0] == "rrf#0"


@pytest.mark.parametrize("path", ["retriever", "rank_rrf", "client_rrf"])
def test_hybrid_gives_the_same_fused_ranking_on_every_path(client, embedder, path) -> None:
    if path == "client_rrf":
        caps = _caps(client, "basic")
    else:
        caps = _caps(client, "trial")
        if path == "rank_rrf":
            caps = replace(caps, retriever=False, rank_rrf=True)
    assert caps.hybrid_path == path
    params = SearchParams(mode="hybrid", size=5, rank_constant=60, rank_window_size=100)
    result = search(client, caps, INDEX, QUERY, params, embedder)
    assert result.path_used == path
    assert "fallback" not in result.explain
    assert result.explain["rank_window_size"] == 100
    _assert_matches_rrf(result, _expected_rrf(client, caps, embedder, params), 5)


@pytest.mark.parametrize("path", ["retriever", "rank_rrf", "client_rrf"])
def test_explain_gives_every_hit_its_leg_ranks_and_scores(client, embedder, path) -> None:
    caps = _caps(client, "basic" if path == "client_rrf" else "trial")
    if path == "rank_rrf":
        caps = replace(caps, retriever=False, rank_rrf=True)
    params = SearchParams(mode="hybrid", size=6, explain=True, rank_constant=10)
    result = search(client, caps, INDEX, QUERY, params, embedder)
    bm25 = _ids(search(client, caps, INDEX, QUERY, params.with_(mode="bm25", size=100), None))
    for hit in result.hits:
        assert hit.knn_rank is not None and hit.knn_score is not None  # knn ranks every chunk
        if hit.chunk_id in bm25:
            assert hit.bm25_rank == bm25.index(hit.chunk_id) + 1 and hit.bm25_score > 0
        else:
            assert hit.bm25_rank is None
        legs = [r for r in (hit.bm25_rank, hit.knn_rank) if r is not None]
        assert hit.fused_score == pytest.approx(sum(1 / (10 + r) for r in legs), rel=1e-5)
    row = result.explain_rows()[0]
    assert row["rank"] == 1 and row["chunk_id"] == result.hits[0].chunk_id
    assert set(row) >= {"bm25_rank", "bm25_score", "knn_rank", "knn_score", "fused_score",
                        "rerank_score"}


def test_license_refusal_falls_back_to_client_rrf_and_says_so(client, embedder) -> None:
    stale = replace(_caps(client, "trial"), license_type="trial")
    set_license(client, "basic")  # the license changed after capabilities were learned
    result = search(client, stale, INDEX, QUERY, SearchParams(size=5), embedder)
    assert result.path_used == "client_rrf"
    assert result.explain["fallback"]["from"] == "retriever"
    assert "license" in result.explain["fallback"]["reason"]
    _assert_matches_rrf(result, _expected_rrf(client, stale, embedder, SearchParams(size=5)), 5)


def _lang(c: dict) -> str:
    return c["metadata"]["lang"]


FILTERS: list[tuple[str, Callable[[dict], bool]]] = [
    ("metadata.lang=de", lambda c: _lang(c) == "de"),
    ("mime_type in [text/html, application/pdf]",
     lambda c: c["mime_type"] in ("text/html", "application/pdf")),
    ("metadata.product!=storage", lambda c: c["metadata"]["product"] != "storage"),
    ("page>=4", lambda c: c["page"] >= 4),
    ("page<2", lambda c: c["page"] < 2),
    ("updated_at>=2024-06-01", lambda c: c["updated_at"] >= "2024-06-01"),
    ("metadata.reviewed exists", lambda c: "reviewed" in c["metadata"]),
    ("metadata.reviewed !exists", lambda c: "reviewed" not in c["metadata"]),
    ("source^=manuals/", lambda c: c["source"].startswith("manuals/")),
    ("not metadata.lang in [en]", lambda c: _lang(c) != "en"),
]


@pytest.mark.parametrize("spec, matches", FILTERS, ids=[f for f, _ in FILTERS])
def test_filters_apply_inside_both_legs(client, embedder, spec, matches) -> None:
    caps = _caps(client, "basic")
    expected = {c["chunk_id"] for c in CORPUS if matches(c)}
    assert 0 < len(expected) < len(CORPUS)
    knn = search(client, caps, INDEX, "coffee machine", SearchParams(
        mode="knn", k=len(expected), size=len(expected), filters=(spec,)), embedder)
    assert set(_ids(knn)) == expected  # k matching chunks exist, so k come back
    hybrid = search(client, caps, INDEX, QUERY, SearchParams(
        mode="hybrid", size=len(expected), filters=(spec,), explain=True), embedder)
    assert set(_ids(hybrid)) <= expected
    assert all(h.bm25_rank is None or h.chunk_id in expected for h in hybrid.hits)


def test_similarity_floor_drops_weak_neighbours(client, embedder) -> None:
    caps = _caps(client, "trial")
    params = SearchParams(mode="knn", k=12, size=12, similarity=0.3)
    result = search(client, caps, INDEX, "How can I extend my laptop battery life?", params,
                    embedder)
    assert 0 < len(result.hits) < len(CORPUS)
    assert _ids(result)[0] == "power#0"


def test_hybrid_rerank_reorders_by_rerank_score(client, embedder) -> None:
    caps = _caps(client, "trial")
    params = SearchParams(mode="hybrid+rerank", size=4).with_(explain=True)
    result = search(client, caps, INDEX, "When was the tower in Paris finished?", params,
                    embedder)
    scores = [h.rerank_score for h in result.hits]
    assert None not in scores and scores == sorted(scores, reverse=True)
    assert result.hits[0].chunk_id == "eiffel#0"
    assert result.explain["rerank"]["reranker"] == "embedding"
    assert all(h.fused_score is not None for h in result.hits)
    custom = search(client, caps, INDEX, "tower", params, embedder,
                    reranker=EmbeddingReranker(embedder, top_n=2))
    assert [h.rerank_score is not None for h in custom.hits] == [True, True, False, False]


def test_highlight_marks_query_terms(client) -> None:
    caps = _caps(client, "trial")
    result = search(client, caps, INDEX, "snapshots quota",
                    SearchParams(mode="bm25", highlight=True), None)
    assert "<em>" in " ".join(result.hits[0].highlight.get("text", []))


def test_stored_template_search(client) -> None:
    client.put_script(id="test-bm25", script={"lang": "mustache", "source": {
        "query": {"match": {"text": "{{query}}"}}, "size": "{{size}}",
        "_source": {"excludes": ["embedding"]}}})
    result = search_template(client, INDEX, "test-bm25", {"query": "backups volume", "size": 2})
    assert result.path_used == "template" and _ids(result)[0] == "backup#0"
    with pytest.raises(SearchError, match="search template 'missing'"):
        search_template(client, INDEX, "missing", {})


def test_bad_input_is_refused_with_the_reason(client, embedder) -> None:
    caps = _caps(client, "trial")
    with pytest.raises(SearchError, match="no-such-index"):
        search(client, caps, "no-such-index", "q", SearchParams(mode="bm25"), None)
    with pytest.raises(ValueError, match="needs an embedder"):
        search(client, caps, INDEX, "q", SearchParams(mode="knn"), None)
    with pytest.raises(ValueError, match="query is empty"):
        search(client, caps, INDEX, "  ", SearchParams(mode="bm25"), None)


@pytest.mark.parametrize("name, mode", [("bm25", "bm25"), ("knn", "knn"), ("hybrid", "hybrid")])
def test_stored_templates_find_what_the_library_finds(client, embedder, name, mode) -> None:
    caps = _caps(client, "trial")
    source = (PROJECT_ROOT / "templates" / "search" / f"{name}.mustache").read_text()
    client.put_script(id=f"lib-{name}", script={"lang": "mustache", "source": source})
    params = SearchParams(mode=mode, size=4, boosts="title^3,text^1,headings^1.5",
                          filters=("mime_type in [text/html, application/pdf]",))
    question = "merge rankings without tuning weights"
    vector = embedder.embed_query(question) if mode != "bm25" else None
    library = search(client, caps, INDEX, question, params, embedder)
    stored = search_template(client, INDEX, f"lib-{name}",
                             template_params(question, params, vector))
    assert _ids(stored) == _ids(library) and _ids(library)[0] == "rrf#0"
    assert [h.score for h in stored.hits] == pytest.approx([h.score for h in library.hits],
                                                           rel=1e-5)
