"""The CI subset of SciFact, end to end against the engine: index, run, score, gate, _rank_eval.

The index is built once for the module (embedding ~200 abstracts is the slow part).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from es_rag.connect import detect_capabilities
from es_rag.embedding.local import Embedder
from es_rag.evaluate import (
    CI_CHUNK_SIZE,
    CI_SUBSET,
    EvaluationReport,
    check_baseline,
    parse_configs,
    rank_eval_ndcg,
    run_evaluation,
    write_html_report,
)

ROOT = Path(__file__).resolve().parents[2]
SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact"
BASELINE = ROOT / "baselines" / "scifact.json"
CI_CONFIGS = "bm25,knn,hybrid,template:knn"


@pytest.fixture(scope="module")
def setup(engine: Any) -> Iterator[dict[str, Any]]:
    client = Elasticsearch(engine.url, request_timeout=120)
    caps = detect_capabilities(client, engine.url, client.info(), embedded=True)
    source = (ROOT / "templates" / "search" / "knn.mustache").read_text()
    client.put_script(id="knn", script={"lang": "mustache", "source": source})
    embedder = Embedder()
    started = time.perf_counter()
    report = run_evaluation(client, caps, SCIFACT, parse_configs(CI_CONFIGS), embedder=embedder,
                            subset=CI_SUBSET, chunk_size=CI_CHUNK_SIZE)
    yield {"client": client, "caps": caps, "embedder": embedder, "report": report,
           "seconds": time.perf_counter() - started}
    client.options(ignore_status=404).indices.delete(index=report.index)
    client.delete_script(id="knn")
    client.close()


def test_the_ci_subset_scores_every_configuration(setup, tmp_path):
    report: EvaluationReport = setup["report"]
    assert report.queries == 30 and report.subset == "q30+d170"
    assert report.corpus is not None and report.corpus.documents == 202
    assert report.corpus.chunks == 202  # one chunk per abstract at this chunk size
    summary = report.summary()
    assert set(summary["configs"]) == {"bm25", "knn", "hybrid", "template:knn"}
    for means in summary["configs"].values():
        assert set(means) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"}
    # the stored kNN template and the library's kNN search rank the same way
    assert summary["configs"]["template:knn"]["ndcg@10"] == pytest.approx(
        summary["configs"]["knn"]["ndcg@10"], abs=0.02)
    assert [c.candidate for c in report.comparisons] == ["knn", "hybrid", "template:knn"]
    html = write_html_report(report, tmp_path / "report.html").read_text()
    assert "<svg" in html and html.count("<h3>") == 4  # worst queries of each configuration


def test_no_metric_dropped_below_the_committed_baseline(setup):
    assert check_baseline(setup["report"], BASELINE, max_drop=0.01) == []


def test_a_second_run_reuses_the_index_without_embedding(setup):
    started = time.perf_counter()
    again = run_evaluation(setup["client"], setup["caps"], SCIFACT, parse_configs("bm25"),
                           embedder=setup["embedder"], subset=CI_SUBSET,
                           chunk_size=CI_CHUNK_SIZE)
    assert again.corpus is not None and again.corpus.reused
    assert again.configs["bm25"].means == setup["report"].configs["bm25"].means
    assert time.perf_counter() - started < setup["seconds"]


def test_rank_eval_ndcg_of_the_stored_template_agrees_with_the_library(setup):
    report: EvaluationReport = setup["report"]
    judgments = report.judgments
    on_cluster = rank_eval_ndcg(setup["client"], report.index, "knn", judgments.queries,
                                judgments.qrels, {}, embedder=setup["embedder"])
    assert on_cluster == pytest.approx(report.configs["template:knn"].means["ndcg@10"], abs=1e-9)
