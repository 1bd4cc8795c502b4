"""Hybrid fusion kinds on every path: weighted RRF and linear fusion, server-side and client-side.

The client-side fusion (Basic license, older clusters) must rank as the cluster's retrievers do,
so a search gives the same answer whichever path the license allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.evaluate.tuning import HybridSetting, TuneError, TuneGrid
from es_rag.retrieve import SearchParams, search
from es_rag.retrieve.defaults import RetrievalDefaults, parse_defaults
from es_rag.retrieve.fusion import linear_fuse, normalize, rrf_fuse
from retrieve.corpus import corpus_client, set_license, shared_embedder

INDEX = "fusion-chunks"
QUERY = "how does rank fusion merge the BM25 and vector rankings"


@pytest.fixture(scope="module")
def client(engine: Any) -> Iterator[Elasticsearch]:
    yield from corpus_client(engine.url, INDEX)


@pytest.fixture(scope="module")
def embedder() -> Any:
    return shared_embedder()


def _ranked(result: Any) -> list[tuple[str, float]]:
    return [(h.chunk_id, h.score) for h in result.hits]


def _assert_same_ranking(server: Any, client_side: Any) -> None:
    assert [cid for cid, _ in _ranked(server)] == [cid for cid, _ in _ranked(client_side)]
    for (_, a), (_, b) in zip(_ranked(server), _ranked(client_side), strict=True):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)


PARAMS = [
    pytest.param(SearchParams(size=8, weights={"bm25": 0.3, "knn": 2.0}), "retriever",
                 "client_rrf", id="weighted-rrf"),
    pytest.param(SearchParams(size=8, fusion="linear", normalizer="minmax",
                              weights={"bm25": 1.0, "knn": 3.0}),
                 "linear_retriever", "client_linear", id="linear-minmax"),
    pytest.param(SearchParams(size=8, fusion="linear", normalizer="l2_norm"),
                 "linear_retriever", "client_linear", id="linear-l2_norm"),
    pytest.param(SearchParams(size=8, fusion="linear", normalizer="none",
                              weights={"bm25": 0.1, "knn": 1.0}),
                 "linear_retriever", "client_linear", id="linear-none"),
]


@pytest.mark.parametrize(("params", "server_path", "client_path"), PARAMS)
def test_client_side_fusion_ranks_as_the_clusters_retriever(client, embedder, params,
                                                             server_path, client_path) -> None:
    # the engine serves 9.2 weights, though it reports 9.1
    trial = replace(set_license(client, "trial"), weighted_rrf=True)
    server = search(client, trial, INDEX, QUERY, params.with_(explain=True), embedder)
    basic = set_license(client, "basic")
    local = search(client, basic, INDEX, QUERY, params.with_(explain=True), embedder)
    assert (server.path_used, local.path_used) == (server_path, client_path)
    _assert_same_ranking(server, local)
    assert local.explain["fusion"] == params.fusion.value
    assert local.explain["weights"] == dict(params.weights)


def test_weights_change_the_ranking(client, embedder) -> None:
    caps = set_license(client, "trial")
    lexical = search(client, caps, INDEX, QUERY, SearchParams(
        size=8, fusion="linear", normalizer="none", weights={"bm25": 1.0, "knn": 0.0}), embedder)
    bm25 = search(client, caps, INDEX, QUERY, SearchParams(mode="bm25", size=8), embedder)
    scored = [h for h in lexical.hits if h.score > 0]
    assert [h.chunk_id for h in scored] == [h.chunk_id for h in bm25.hits]
    assert [h.score for h in scored] == pytest.approx([h.score for h in bm25.hits])
    semantic = search(client, caps, INDEX, QUERY, SearchParams(
        size=8, fusion="linear", weights={"bm25": 0.0, "knn": 1.0}), embedder)
    assert [h.chunk_id for h in semantic.hits] != [h.chunk_id for h in lexical.hits]


def test_a_9_1_cluster_weighs_rrf_client_side(client, embedder) -> None:
    caps = set_license(client, "trial")
    assert caps.version == "9.1.0" and not caps.weighted_rrf and caps.linear_retriever
    result = search(client, caps, INDEX, QUERY,
                    SearchParams(size=5, weights={"bm25": 2.0, "knn": 1.0}), embedder)
    assert result.path_used == "client_rrf"
    assert search(client, caps, INDEX, QUERY, SearchParams(size=5), embedder).path_used \
        == "retriever"


def test_a_linear_request_refused_for_its_license_falls_back(client, embedder) -> None:
    stale = set_license(client, "trial")
    set_license(client, "basic")  # the license changed after the capabilities were learned
    result = search(client, stale, INDEX, QUERY,
                    SearchParams(size=5, fusion="linear", explain=True), embedder)
    assert result.path_used == "client_linear"
    assert result.explain["fallback"]["from"] == "linear_retriever"
    assert "license" in result.explain["fallback"]["reason"]


def test_basic_license_says_what_it_lacks(client) -> None:
    basic = set_license(client, "basic")
    assert {"rrf retriever", "linear retriever", "text_similarity_reranker"} <= set(
        basic.license_lacks)
    assert basic.as_dict()["linear_path"] == "client_linear"
    assert set_license(client, "trial").license_lacks == []


def test_rrf_and_linear_fusion_as_elasticsearch_computes_them() -> None:
    fused = dict(rrf_fuse([["a", "b"], ["b"]], rank_constant=10, weights=[2.0, 0.5]))
    assert fused == pytest.approx({"a": 2 / 11, "b": 2 / 12 + 0.5 / 11})
    assert normalize("minmax", [3.0, 3.0]) == [1.0, 1.0]
    assert normalize("l2_norm", [3.0, 4.0]) == pytest.approx([0.6, 0.8])
    assert linear_fuse([[("a", 2.0), ("b", 1.0)], [("c", 5.0)]], weights=[1, 1],
                       rank_window_size=1) == [("a", 1.0), ("c", 1.0)]


def test_retrieval_json_carries_the_fusion_to_search_params() -> None:
    defaults = parse_defaults({"fusion": {"kind": "linear", "normalizer": "l2_norm",
                                          "weights": {"knn": 2}}}, "retrieval.json", "file")
    params = defaults.search_params()
    assert (params.fusion.value, params.normalizer, dict(params.weights)) == (
        "linear", "l2_norm", {"bm25": 1.0, "knn": 2.0})
    assert defaults.search_params(fusion="rrf", bm25_weight="0.5").weights == {
        "bm25": 0.5, "knn": 2.0}
    assert defaults.search_params(fusion="rrf").provenance["overrides"] == ["fusion"]
    assert parse_defaults(defaults.as_file(), "again", "file").as_file() == defaults.as_file()
    assert "weights" not in RetrievalDefaults().as_file()["fusion"]  # unchanged default file


def test_the_tuner_searches_fusion_kinds_and_writes_the_winner() -> None:
    grid = TuneGrid(rank_constant=(20, 60), rank_window_size=(100,), num_candidates=(100,),
                    title_boost=(1.0,), headings_boost=(1.0,), fusion="rrf,linear",
                    normalizer="minmax,l2_norm", knn_weight="1,2")
    settings = grid.settings()
    # linear has no rank constant, RRF no normalizer: 2 x 2 RRF points + 2 x 2 linear ones
    assert len(settings) == 8
    linear = next(s for s in settings if s.fusion == "linear" and s.knn_weight == 2)
    written = linear.apply_to(RetrievalDefaults()).as_file()["fusion"]
    assert written["kind"] == "linear" and written["weights"] == {"bm25": 1.0, "knn": 2.0}
    assert HybridSetting.from_defaults(linear.apply_to(RetrievalDefaults())) == linear
    with pytest.raises(TuneError, match="grid fusion: 'sum' is not one of rrf, linear"):
        TuneGrid(fusion="sum")
