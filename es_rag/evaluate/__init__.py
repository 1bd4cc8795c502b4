"""Evaluation: judgments, metrics, runs over retrieval configurations, reports, regression gate.

>>> from es_rag.evaluate import parse_configs, run_evaluation, check_baseline
>>> report = run_evaluation(client, caps, "../shared/datasets/scifact",
...                         parse_configs("bm25,knn,hybrid"), subset=CI_SUBSET)  # doctest: +SKIP
>>> print(report.to_json())                                                      # doctest: +SKIP
>>> check_baseline(report, "baselines/scifact.json", max_drop=0.01)              # doctest: +SKIP
[]
>>> evaluate_live(client, caps, "chunks", read_judgments("judgments/playground.qrels"),
...               parse_configs("current"), embedder=embedder)                   # doctest: +SKIP
"""

from es_rag.evaluate.baseline import (
    BaselineError,
    Regression,
    check_baseline,
    read_baseline,
    write_baseline,
)
from es_rag.evaluate.configs import EvalConfig, EvalConfigError, parse_config, parse_configs
from es_rag.evaluate.corpus import CorpusIndex, CorpusIndexError, ensure_corpus_index
from es_rag.evaluate.judgments import (
    BeirDataset,
    CorpusDoc,
    Judgments,
    JudgmentsError,
    load_beir,
    read_beir_qrels,
    read_judgments,
    read_qrels,
    read_trec_qrels,
)
from es_rag.evaluate.metrics import METRICS, Comparison, compare_rankings, score_ranking
from es_rag.evaluate.rank_eval import RankEvalError, rank_eval_ndcg
from es_rag.evaluate.report import print_report, render_html, write_html_report
from es_rag.evaluate.run import (
    ConfigResult,
    EvaluationReport,
    compare_configs,
    evaluate_live,
    run_configs,
    run_evaluation,
)
from es_rag.evaluate.subset import CI_CHUNK_SIZE, CI_SUBSET, Subset
from es_rag.evaluate.tuning import HybridSetting, TuneError, TuneGrid, TuneResult, tune

__all__ = [
    "BaselineError", "BeirDataset", "CI_CHUNK_SIZE", "CI_SUBSET", "Comparison", "EvalConfigError",
    "ConfigResult", "CorpusDoc", "CorpusIndex", "CorpusIndexError", "EvalConfig",
    "EvaluationReport", "HybridSetting", "Judgments", "JudgmentsError", "METRICS",
    "RankEvalError", "Regression", "Subset", "TuneError", "TuneGrid", "TuneResult",
    "check_baseline", "compare_configs", "compare_rankings", "ensure_corpus_index",
    "evaluate_live", "load_beir", "read_judgments",
    "parse_config", "parse_configs", "print_report", "rank_eval_ndcg", "read_baseline",
    "read_beir_qrels", "read_qrels", "read_trec_qrels", "render_html", "run_configs",
    "run_evaluation", "score_ranking", "tune", "write_baseline", "write_html_report",
]
