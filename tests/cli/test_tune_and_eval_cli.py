"""`es-rag tune` and `es-rag eval` as a user runs them: real processes on a private engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from es_rag.config import PROJECT_ROOT
from es_rag.evaluate import read_judgments

from .fusion_dataset import WINDOW, write_fusion_dataset
from .test_cli import _free_port, run


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private engine and a private copy of the assets, with RRF windows of 10."""
    root = tmp_path / "repo"
    for folder in ("mappings", "pipelines", "templates", "roles"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    data = json.loads((PROJECT_ROOT / "retrieval.json").read_text())
    data["fusion"]["rank_window_size"] = WINDOW
    (root / "retrieval.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    env = {"ES_RAG_DATA": str(tmp_path / "data"), "ES_RAG_ENGINE_PORT": str(_free_port()),
           "ES_RAG_ASSETS": str(root)}
    yield env
    run("engine", "stop", env=env)


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_tune_runs_with_and_without_a_grid_and_writes_retrieval_json(env, tmp_path) -> None:
    dataset = write_fusion_dataset(tmp_path / "fusion")
    retrieval = Path(env["ES_RAG_ASSETS"]) / "retrieval.json"
    before = retrieval.read_text()

    default_grid = run("tune", "--dataset", str(dataset), "--budget", "2", "--json", env=env,
                       timeout=300)
    assert default_grid.returncode == 0, default_grid.stderr
    summary = _last_json(default_grid.stdout)
    assert len(summary["trials"]) == 2
    assert (summary["current"]["rank_constant"], summary["current"]["rank_window_size"]) == (
        60, WINDOW)
    assert retrieval.read_text() == before  # without --write nothing is written

    grid = ["--grid", "rank_constant=1", "--grid", f"rank_window_size={WINDOW}", "--grid",
            "num_candidates=100", "--grid", "title_boost=1", "--grid", "headings_boost=1"]
    written = run("tune", "--dataset", str(dataset), *grid, "--write", env=env, timeout=300)
    assert written.returncode == 0, written.stderr
    assert "tuned vs current" in written.stdout
    assert '-    "rank_constant": 60,\n' in written.stdout
    assert '+    "rank_constant": 1,\n' in written.stdout
    assert "wrote the best setting into" in written.stdout
    assert json.loads(retrieval.read_text())["fusion"]["rank_constant"] == 1

    bad = run("tune", "--dataset", str(dataset), "--grid", "rank_constant=ten", env=env)
    assert bad.returncode == 2
    assert "grid rank_constant: 'ten' is not a number" in bad.stderr
    assert "Traceback" not in bad.stderr


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave policy\n\nEmployees request annual leave in the "
                                     "HR portal. Managers approve leave within three days.\n")
    (folder / "travel.md").write_text("# Travel\n\nBook flights through the travel desk; "
                                      "economy class is the default for short flights.\n")
    (folder / "backup.md").write_text("# Backups\n\nNightly backups copy every volume to "
                                      "object storage and keep them for thirty days.\n")
    return folder


def test_eval_judgments_measures_the_live_index_in_every_format(env, tmp_path) -> None:
    assert run("apply", "--yes", env=env).returncode == 0
    ingested = run("ingest", str(_corpus(tmp_path / "handbook")), "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    queries = {"q-leave": "who approves annual leave", "q-travel": "booking flights"}
    doc_of = {}
    for qid, text in queries.items():
        hits = _last_json(run("search", text, "--mode", "bm25", "--json", env=env).stdout)
        doc_of[qid] = hits["hits"][0]["doc_id"]

    # the playground's files: judgments/playground.qrels and playground-queries.jsonl
    judged = Path(env["ES_RAG_ASSETS"]) / "judgments"
    judged.mkdir()
    qrels = judged / "playground.qrels"
    qrels.write_text("".join(f"{q} 0 {d} 1\n" for q, d in doc_of.items()))
    (judged / "playground-queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    live = run("eval", "--judgments", str(qrels), "--configs", "current,bm25", "--json",
               env=env, timeout=300)
    assert live.returncode == 0, live.stderr
    report = _last_json(live.stdout)
    assert report["queries"] == 2 and report["split"] == "live"
    assert report["configs"]["bm25"]["ndcg@10"] == 1.0
    assert 0.0 < report["configs"]["current"]["recall@10"] <= 1.0
    assert report["parameters"]["source"] == "cluster"
    assert report["parameters"]["values"]["rank_window_size"] == WINDOW

    # TREC qrels elsewhere with --queries, and a BEIR folder: the same judgments, same scores
    trec = tmp_path / "judged.txt"
    trec.write_text(qrels.read_text())
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "queries.jsonl").write_text((judged / "playground-queries.jsonl").read_text())
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t1\n" for q, d in doc_of.items()))
    playground = read_judgments(qrels)
    for other in (read_judgments(trec, beir / "queries.jsonl"), read_judgments(beir)):
        assert (other.queries, other.qrels) == (playground.queries, playground.qrels)

    lonely = run("eval", "--judgments", str(trec), env=env)
    assert lonely.returncode == 1
    assert "no queries for these judgments: give --queries" in lonely.stderr
    both = run("eval", "--judgments", str(trec), "--dataset", str(beir), env=env)
    assert both.returncode == 2 and "give one of --dataset" in both.stderr


def test_eval_of_a_beir_folder_skips_and_counts_empty_and_broken_documents(env,
                                                                           tmp_path) -> None:
    root = tmp_path / "beir"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join([
        json.dumps({"_id": "d1", "title": "Solar", "text": "Solar panels make electricity."}),
        json.dumps({"_id": "d2", "title": "", "text": "   "}),
        '{"_id": "d3", "title": "broken',
        json.dumps({"_id": "d4", "title": "Bread", "text": "Bread is baked from flour."}),
    ]) + "\n")
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "solar panels"}) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    result = run("eval", "--dataset", str(root), "--configs", "bm25", "--json", env=env,
                 timeout=300)
    assert result.returncode == 0, result.stderr
    report = _last_json(result.stdout)
    assert report["skipped_documents"] == 2
    assert "corpus.jsonl:2: document 'd2' is empty" in report["skipped"][0]
    assert "corpus.jsonl:3: not valid JSON" in report["skipped"][1]
    assert report["configs"]["bm25"]["ndcg@10"] == 1.0


def test_a_broken_retrieval_json_is_one_clear_line(env) -> None:
    (Path(env["ES_RAG_ASSETS"]) / "retrieval.json").write_text('{\n  "mode": "hybrid",\n}\n')
    for command in (["plan"], ["search", "leave", "--mode", "bm25"]):
        result = run(*command, env=env)
        assert result.returncode == 1
        assert "retrieval.json:3:1: invalid JSON" in result.stderr
        assert "Traceback" not in result.stderr
