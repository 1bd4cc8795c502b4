"""Tuning hybrid search on SciFact's train queries (CI subset) and reporting on the test ones.

A stand-in hash embedder keeps this fast: the kNN leg is noise, so what is checked is the
tuner's contract (budget, seed, train/test separation, one index, one embedding per query,
output into retrieval.json), not which setting wins.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from rich.console import Console

from es_rag.assets import load_assets, template_defaults
from es_rag.connect import detect_capabilities
from es_rag.evaluate import CI_CHUNK_SIZE, CI_SUBSET, METRICS, print_report
from es_rag.evaluate.tuning import (
    HybridSetting,
    TuneError,
    TuneGrid,
    TuneResult,
    plan_trials,
    tune,
)
from es_rag.retrieve.defaults import read_file

from .conftest import CountingEmbedder

ROOT = Path(__file__).resolve().parents[2]
SCIFACT = ROOT.parent / "shared" / "datasets" / "scifact"
GRID = TuneGrid(rank_constant=(10, 60), rank_window_size=(50, 100), num_candidates=(100,),
                title_boost=(1.0, 3.0), headings_boost=(1.5,))
BUDGET = 4


class QueryCountingEmbedder(CountingEmbedder):
    """Also counts how often each query text is embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: Counter[str] = Counter()

    def embed_query(self, text: str) -> list[float]:
        self.queries[text] += 1
        return super().embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return [CountingEmbedder.embed_query(self, t) for t in texts]


def _poisoned_copy(root: Path) -> Path:
    """SciFact with the test judgments of the CI subset's queries rotated between them: the
    same judged documents (so the same index), but every test query judged wrongly."""
    folder = root / "scifact"
    (folder / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv"):
        (folder / name).symlink_to(SCIFACT / name)
    lines = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()
    header, rows = lines[0], [line.split("\t") for line in lines[1:] if line]
    order = list(dict.fromkeys(row[0] for row in rows))
    first = order[: CI_SUBSET.queries]
    moved = {qid: first[(i + 1) % len(first)] for i, qid in enumerate(first)}
    poisoned = [[moved.get(q, q), doc, score] for q, doc, score in rows]
    (folder / "qrels" / "test.tsv").write_text(
        "\n".join([header, *("\t".join(row) for row in poisoned)]) + "\n")
    return folder


@pytest.fixture(scope="module")
def tuned(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    client = Elasticsearch(engine.url, request_timeout=120)
    caps = detect_capabilities(client, engine.url, client.info(), embedded=True)
    runs: dict[str, Any] = {}
    for name, dataset in (("real", SCIFACT),
                          ("poisoned", _poisoned_copy(tmp_path_factory.mktemp("poisoned")))):
        embedder, calls = QueryCountingEmbedder(), []
        result = tune(client, caps, dataset, embedder=embedder, grid=GRID, budget=BUDGET,
                      subset=CI_SUBSET, chunk_size=CI_CHUNK_SIZE,
                      progress=lambda *call, calls=calls: calls.append(call))
        runs[name] = {"result": result, "embedder": embedder, "progress": calls}
    yield {"client": client, **runs}
    client.options(ignore_status=404).indices.delete(index=runs["real"]["result"].index)
    client.close()


def test_the_search_stays_within_the_budget_and_starts_from_retrieval_json(tuned):
    result: TuneResult = tuned["real"]["result"]
    assert GRID.points == 8 and len(result.trials) == BUDGET
    current = HybridSetting.from_defaults(read_file(ROOT))
    assert result.current == current == HybridSetting(60, 100, 100, 1.0, 1.0, 1.0)
    assert next(iter(result.trials)) == current
    assert result.best in result.trials
    assert result.trials[result.best] == max(result.trials.values())
    assert result.train_queries == 30 and result.test_queries == 30


def test_the_same_seed_picks_the_same_settings_and_another_seed_other_ones():
    current = HybridSetting(60, 100, 200, 1.0, 1.0, 1.0)
    big = TuneGrid()
    assert plan_trials(big, current, 10, seed=7) == plan_trials(big, current, 10, seed=7)
    assert plan_trials(big, current, 10, seed=7) != plan_trials(big, current, 10, seed=8)
    assert len(plan_trials(GRID, current, 100)) == GRID.points + 1  # small grid: all of it


def test_test_judgments_never_influence_the_search(tuned):
    real, poisoned = tuned["real"]["result"], tuned["poisoned"]["result"]
    # same seed, same train queries: identical trials, scores and winner ...
    assert real.trials == poisoned.trials and real.best == poisoned.best
    # ... although the poisoned test judgments make the test scores collapse
    assert poisoned.test_metrics["tuned"]["ndcg@10"] < real.test_metrics["tuned"]["ndcg@10"]


def test_the_index_is_built_once_and_each_query_embedded_once(tuned):
    real, poisoned = tuned["real"], tuned["poisoned"]
    assert real["embedder"].embedded > 200  # the CI subset's abstracts, once
    assert poisoned["embedder"].embedded == 0  # same documents: the index was reused
    assert poisoned["result"].index == real["result"].index
    counts = real["embedder"].queries
    assert len(counts) == 60 and set(counts.values()) == {1}  # 30 train + 30 test queries


def test_both_settings_are_reported_on_the_test_queries_with_a_significance_test(tuned):
    result: TuneResult = tuned["real"]["result"]
    assert set(result.test_metrics) == {"current", "tuned"}
    for means in result.test_metrics.values():
        assert set(means) == set(METRICS)
    assert len(result.test["tuned"].per_query["ndcg@10"]) == 30
    summary = json.loads(result.to_json())
    assert summary["significance"]["baseline"] == "current"
    assert summary["significance"]["candidate"] == "tuned"
    assert 0.0 <= summary["significance"]["p_value"] <= 1.0
    assert len(summary["trials"]) == BUDGET
    console = Console(record=True, width=120)
    print_report(result.test_report(), console)
    printed = console.export_text()
    assert "scifact (test, q30+d170): 30 queries" in printed and "tuned vs current" in printed
    assert summary["best"] in [trial["params"] for trial in summary["trials"]]


def test_progress_reports_each_stage_to_completion(tuned):
    calls = tuned["real"]["progress"]
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages[-3:] == ["embed queries", "train", "test"]
    for stage in ("embed queries", "train", "test"):
        done, total = [(d, t) for s, d, t in calls if s == stage][-1]
        assert done == total
    assert [t for s, _, t in calls if s == "train"][0] == BUDGET * 30


def test_the_best_setting_is_written_into_retrieval_json_as_a_diff_and_renders(tuned,
                                                                               tmp_path):
    root = tmp_path / "repo"
    for folder in ("mappings", "templates"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "retrieval.json", root / "retrieval.json")
    before = (root / "retrieval.json").read_text()
    result = replace(tuned["real"]["result"], best=HybridSetting(20, 200, 50, 1.0, 3.0, 1.0))
    diff = result.diff_for_file(root)
    assert diff.startswith("--- a/retrieval.json\n+++ b/retrieval.json\n")
    assert '\n-    "rank_constant": 60,\n' in diff and '\n+    "rank_constant": 20,\n' in diff
    assert (root / "retrieval.json").read_text() == before  # showing the diff writes nothing
    assert result.write_file(root) == diff
    written = json.loads((root / "retrieval.json").read_text())
    assert written["fusion"] == {"kind": "rrf", "rank_constant": 20, "rank_window_size": 200}
    assert written["knn"] == {"k": 10, "num_candidates": 200}
    assert written["boosts"] == {"headings": 1.0, "text": 1.0, "title": 3.0}
    assert result.diff_for_file(root) == ""  # written: nothing left to change

    # what `apply` stores: the hybrid template's defaults follow retrieval.json
    (hybrid,) = [t for t in load_assets(root).templates if t.name == "hybrid"]
    source = hybrid.body["script"]["source"]
    assert {k: template_defaults(source)[k] for k in ("rank_constant", "k", "title_boost")} == {
        "rank_constant": "20", "k": "200", "title_boost": "3.0"}
    client: Elasticsearch = tuned["client"]
    rendered = client.render_search_template(
        source=source, params={"query": "vitamin d", "query_vector": [0.1] * 384, "filters": []},
    )["template_output"]
    rrf = rendered["retriever"]["rrf"]
    assert (rrf["rank_constant"], rrf["rank_window_size"]) == (20, 200)
    knn = rrf["retrievers"][1]["knn"]
    assert (knn["k"], knn["num_candidates"]) == (200, 200)
    fields = rrf["retrievers"][0]["standard"]["query"]["bool"]["must"]["multi_match"]["fields"]
    assert fields == ["text^1.0", "title^3.0", "headings^1.0"]


def test_a_broken_retrieval_json_is_refused_naming_the_file(tuned, tmp_path):
    (tmp_path / "retrieval.json").write_text('{"fusion": {"kind": "sum"}}')
    with pytest.raises(TuneError, match="retrieval.json: fusion.kind 'sum' is not supported"):
        tuned["real"]["result"].diff_for_file(tmp_path)


@pytest.mark.parametrize(("grid", "message"), [
    ({"rank_constant": (0, 60)}, r"grid rank_constant: 0 must be between 1 and 10000"),
    ({"rank_window_size": "5,100"}, r"grid rank_window_size: '5' .*ten fused results"),
    ({"num_candidates": (100.5,)}, r"grid num_candidates: 100.5 must be a whole number"),
    ({"title_boost": (-1,)}, r"grid title_boost: -1 must be a positive boost"),
    ({"text_boost": ("heavy",)}, r"grid text_boost: 'heavy' is not a number"),
    ({"rank_constant": ()}, r"grid rank_constant: give at least one value"),
    ({"rank_konstant": (10,)}, r"unknown grid parameter\(s\) rank_konstant \(known: "),
])
def test_a_bad_grid_is_refused_with_a_clear_message(grid, message):
    with pytest.raises(TuneError, match=message):
        TuneGrid.from_mapping(grid)


def test_a_budget_below_one_or_a_bad_current_setting_is_refused():
    with pytest.raises(TuneError, match="budget must be at least 1 evaluation, got 0"):
        plan_trials(GRID, HybridSetting(60, 100, 200, 1.0, 1.0, 1.0), 0)
    with pytest.raises(TuneError, match="setting title_boost: 0.0 must be a positive boost"):
        HybridSetting(60, 100, 200, 1.0, 0.0, 1.5)
