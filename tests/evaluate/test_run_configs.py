"""Running every kind of configuration over judged queries against the engine (no real model)."""

from __future__ import annotations

from es_rag.connect import detect_capabilities
from es_rag.evaluate import Judgments, compare_configs, parse_configs, run_configs

JUDGMENTS = Judgments("tiny/test",
                      {"q1": "vitamin D falls older adults", "q2": "statins cholesterol"},
                      {"q1": {"d1": 1}, "q2": {"d2": 1}})


def test_every_mode_runs_and_chunks_collapse_to_documents(es, engine, build_tiny, new_embedder):
    embedder = new_embedder()
    build_tiny(embedder)
    caps = detect_capabilities(es, engine.url, es.info(), embedded=True)
    configs = parse_configs("bm25,knn,hybrid:rank_constant=10,hybrid+rerank")
    results = run_configs(es, caps, "eval-tiny", JUDGMENTS, configs, embedder)
    assert list(results) == [c.name for c in configs]
    bm25 = results["bm25"]
    assert bm25.means["mrr@10"] == 1.0  # both queries find their document first with BM25
    for result in results.values():
        for ranked in result.rankings.values():
            docs = [doc for doc, _ in ranked]
            assert len(docs) == len(set(docs))  # d2's chunks count once
        assert len(result.latency_ms) == 2
    comparisons = compare_configs(JUDGMENTS, results)
    assert {c.baseline for c in comparisons} == {"bm25"} and len(comparisons) == 3


def test_a_stored_template_is_evaluated_with_its_params(es, engine, build_tiny, new_embedder):
    embedder = new_embedder()
    build_tiny(embedder)
    es.put_script(id="eval-bm25", script={"lang": "mustache", "source": (
        '{"size": {{size}}, "query": {"match": {"{{field}}": "{{query}}"}}}')})
    caps = detect_capabilities(es, engine.url, es.info(), embedded=True)
    try:
        results = run_configs(es, caps, "eval-tiny", JUDGMENTS,
                              parse_configs("template:eval-bm25:field=text"), embedder)
    finally:
        es.delete_script(id="eval-bm25")
    assert results["template:eval-bm25:field=text"].means["mrr@10"] == 1.0
