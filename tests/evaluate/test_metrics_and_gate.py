"""Metrics on a hand-built run, config specs, the regression gate and the reports."""

from __future__ import annotations

import json
import math

import pytest

from es_rag.evaluate import (
    BaselineError,
    ConfigResult,
    EvalConfigError,
    EvaluationReport,
    Judgments,
    check_baseline,
    compare_rankings,
    parse_configs,
    render_html,
    score_ranking,
    write_baseline,
)
from es_rag.evaluate.report import console_table
from es_rag.evaluate.run import documents_of
from es_rag.retrieve import Hit

QRELS = {"q1": {"d1": 1, "d2": 1}, "q2": {"d3": 1, "d9": 0}, "q3": {"d5": 1}}
RUN = {"q1": ["d1", "x", "d2"], "q2": ["x", "d3"], "q3": []}


def test_metrics_of_a_hand_built_run():
    scores = score_ranking(QRELS, RUN)
    # q1: relevant at ranks 1 and 3 → DCG 1 + 1/log2(4), ideal 1 + 1/log2(3)
    ndcg_q1 = (1 + 0.5) / (1 + 1 / math.log2(3))
    ndcg_q2 = (1 / math.log2(3)) / 1  # the one relevant document at rank 2
    assert scores.per_query["ndcg@10"] == pytest.approx({"q1": ndcg_q1, "q2": ndcg_q2, "q3": 0})
    assert scores.means["ndcg@10"] == pytest.approx((ndcg_q1 + ndcg_q2) / 3)
    assert scores.per_query["mrr@10"] == pytest.approx({"q1": 1.0, "q2": 0.5, "q3": 0.0})
    assert scores.means["recall@10"] == pytest.approx(2 / 3)  # q3 found nothing
    # AP q1 = (1/1 + 2/3) / 2; AP q2 = 1/2 (a grade-0 judgment is not relevant)
    assert scores.means["map@100"] == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 3)


def test_rank_not_raw_score_decides_the_order():
    # RRF gives equal scores to many hits; the order the engine returned must be what counts.
    hits = [Hit("c-x", "x", 0.5), Hit("c-d1", "d1", 0.5), Hit("c-d1b", "d1", 0.9)]
    assert documents_of(hits) == [("x", 0.5), ("d1", 0.5)]
    scores = score_ranking({"q": {"d1": 1}}, {"q": [doc for doc, _ in documents_of(hits)]})
    assert scores.means["mrr@10"] == 0.5


def test_paired_significance_between_two_configurations():
    perfect = {"q1": ["d1", "d2"], "q2": ["d3"], "q3": ["d5"]}
    result = compare_rankings(QRELS, ("base", RUN), ("perfect", perfect), "ndcg@10")
    assert result.candidate_mean == pytest.approx(1.0)
    assert 0 < result.p_value < 1 and result.test == "student"
    same = compare_rankings(QRELS, ("a", RUN), ("b", RUN), test="fisher")
    assert same.p_value == 1.0 and not same.significant
    with pytest.raises(ValueError, match="unknown test"):
        compare_rankings(QRELS, ("a", RUN), ("b", RUN), test="wilcoxon")


def test_config_specs_with_parameters_and_lists():
    configs = parse_configs("bm25,knn:num_candidates=200,hybrid:rank_constant=20,"
                            "boosts=title^3,text^1,template:hybrid:size=5,hybrid+rerank")
    assert [c.name for c in configs] == [
        "bm25", "knn:num_candidates=200", "hybrid:rank_constant=20,boosts=title^3,text^1",
        "template:hybrid:size=5", "hybrid+rerank"]
    hybrid = configs[2].search_params(100)
    assert (hybrid.rank_constant, dict(hybrid.boosts)) == (20, {"title": 3.0, "text": 1.0})
    assert configs[1].search_params(100).k == 100  # kNN fetches the evaluation depth
    assert configs[3].template_id == "hybrid" and configs[3].params == {"size": 5}


@pytest.mark.parametrize(("spec", "problem"), [
    ("bm25,vector", "unknown mode 'vector'"),
    ("hybrid:rank_constant=0", "rank_constant must be at least 1"),
    ("bm25,bm25", "given twice"),
    ("template:", "name the template"),
])
def test_bad_config_specs_are_explained(spec, problem):
    with pytest.raises(EvalConfigError, match=problem):
        parse_configs(spec)


def make_report(ndcg: float = 0.7, recall: float = 0.9) -> EvaluationReport:
    judgments = Judgments("tiny/test", {"q1": "first <query>", "q2": "second"},
                          {"q1": {"d1": 1}, "q2": {"d2": 1}})
    means = {"ndcg@10": ndcg, "recall@10": recall, "recall@100": recall, "mrr@10": ndcg,
             "map@100": ndcg}
    per_query = {m: {"q1": v, "q2": v} for m, v in means.items()}
    result = ConfigResult("bm25", means, per_query,
                          {"q1": [("d1", 2.0), ("d7", 1.0)], "q2": [("d9", 1.0)]}, [3.0, 5.0])
    return EvaluationReport("tiny", "test", "full", "eval-tiny", judgments, {"bm25": result})


def test_the_gate_flags_only_drops_beyond_the_allowed_margin(tmp_path):
    baseline = write_baseline(make_report(), tmp_path / "baseline.json")
    assert json.loads(baseline.read_text())["configs"]["bm25"]["ndcg@10"] == 0.7
    assert check_baseline(make_report(ndcg=0.695), baseline, max_drop=0.01) == []
    regressions = check_baseline(make_report(ndcg=0.68), baseline, max_drop=0.01)
    assert [(r.config, r.metric) for r in regressions] == [
        ("bm25", "ndcg@10"), ("bm25", "mrr@10"), ("bm25", "map@100")]
    assert "drop 0.0200" in str(regressions[0])


def test_the_gate_refuses_a_baseline_of_another_run(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"dataset": "tiny", "subset": "q50+d450", "configs": {}}))
    with pytest.raises(BaselineError, match="baseline subset is 'q50\\+d450'"):
        check_baseline(make_report(), path)
    path.write_text("{oops")
    with pytest.raises(BaselineError, match="invalid JSON"):
        check_baseline(make_report(), path)


def test_reports_show_the_table_chart_and_worst_queries():
    report = make_report()
    assert json.loads(report.to_json())["configs"]["bm25"]["ndcg@10"] == 0.7
    assert console_table(report).row_count == 1
    html = render_html(report)
    assert "<svg" in html and "ndcg@10" in html
    assert "first &lt;query&gt;" in html  # query text is escaped
    assert "d1, d7" in html  # the top retrieved documents of a worst query
