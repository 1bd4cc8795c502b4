"""Relevance metrics over ranked document lists, computed with `ranx`, per query and on average.

Runs are scored by rank, not by raw score: the i-th document of a list gets score n - i, so ties
in the engine's scores (RRF produces many) cannot reorder what the user actually saw.
nDCG uses linear gain (as trec_eval and BEIR do); it equals Elasticsearch's `dcg` (2^rel - 1)
whenever judgments are binary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from es_rag.evaluate.judgments import Qrels

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100")
STAT_TESTS = ("student", "fisher")

Ranking = Mapping[str, Sequence[str]]
"""query id → document ids, best first."""


@dataclass(frozen=True)
class Scores:
    """Mean and per-query values of each metric for one configuration."""

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    """metric → query id → value."""


def _ranx_run(ranking: Ranking, qrels: Qrels, name: str) -> Any:
    from ranx import Run

    scored = {}
    for qid in qrels:
        docs = list(dict.fromkeys(ranking.get(qid, ())))
        scored[qid] = {doc: float(len(docs) - i) for i, doc in enumerate(docs)}
    return Run.from_dict(scored, name=name)


def _ranx_qrels(qrels: Qrels) -> Any:
    from ranx import Qrels as RanxQrels

    return RanxQrels.from_dict({q: dict(docs) for q, docs in qrels.items()})


def _check_metrics(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)} (known: {', '.join(METRICS)})")


def score_ranking(qrels: Qrels, ranking: Ranking, metrics: Sequence[str] = METRICS) -> Scores:
    """Score one configuration's ranking against `qrels` (every judged query counts; a query
    with no results scores 0)."""
    from ranx import evaluate

    _check_metrics(metrics)
    if not qrels:
        raise ValueError("no judged queries to evaluate")
    run = _ranx_run(ranking, qrels, "run")
    means = evaluate(_ranx_qrels(qrels), run, list(metrics), make_comparable=True)
    if len(metrics) == 1:
        means = {metrics[0]: means}
    per_query = {m: {q: float(v) for q, v in run.scores[m].items()} for m in metrics}
    for metric in metrics:  # queries ranx left out (empty results) score 0
        for qid in qrels:
            per_query[metric].setdefault(qid, 0.0)
    return Scores({m: float(means[m]) for m in metrics}, per_query)


@dataclass(frozen=True)
class Comparison:
    """A paired significance test of `candidate` against `baseline` on one metric."""

    baseline: str
    candidate: str
    metric: str
    baseline_mean: float
    candidate_mean: float
    p_value: float
    test: str
    significant: bool

    def as_dict(self) -> dict[str, object]:
        """Plain dict for JSON output (a NaN p-value, from identical runs, becomes 1.0)."""
        return {"baseline": self.baseline, "candidate": self.candidate, "metric": self.metric,
                "baseline_mean": self.baseline_mean, "candidate_mean": self.candidate_mean,
                "delta": self.candidate_mean - self.baseline_mean, "p_value": self.p_value,
                "test": self.test, "significant": self.significant}


def compare_rankings(qrels: Qrels, baseline: tuple[str, Ranking], candidate: tuple[str, Ranking],
                     metric: str = "ndcg@10", test: str = "student",
                     max_p: float = 0.05) -> Comparison:
    """Paired test (ranx `compare`: Student's t or Fisher's randomization) of two rankings."""
    from ranx import compare

    _check_metrics([metric])
    if test not in STAT_TESTS:
        raise ValueError(f"unknown test {test!r} (known: {', '.join(STAT_TESTS)})")
    (name_a, ranking_a), (name_b, ranking_b) = baseline, candidate
    if name_a == name_b:
        raise ValueError(f"cannot compare configuration {name_a!r} with itself")
    runs = [_ranx_run(ranking_a, qrels, name_a), _ranx_run(ranking_b, qrels, name_b)]
    report = compare(_ranx_qrels(qrels), runs, [metric], stat_test=test, max_p=max_p,
                     rounding_digits=8, make_comparable=True).to_dict()
    p_value = float(report[name_b]["comparisons"][name_a][metric])
    if math.isnan(p_value):
        p_value = 1.0
    return Comparison(name_a, name_b, metric, float(report[name_a]["scores"][metric]),
                      float(report[name_b]["scores"][metric]), p_value, test,
                      p_value < max_p)
