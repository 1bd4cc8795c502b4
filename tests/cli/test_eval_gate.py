"""`es-rag eval` as a regression gate: a drop beyond --max-drop exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from es_rag.cli import cli


def _tiny_beir(root: Path) -> Path:
    docs = {"d1": "Solar panels convert sunlight into electricity.",
            "d2": "Wind turbines turn the kinetic energy of wind into power.",
            "d3": "Bread is baked from flour, water, yeast and salt."}
    queries = {"q1": "how do solar panels make electricity", "q2": "what is bread made of"}
    root.mkdir()
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return root


def test_eval_prints_json_and_gates_regressions(engine, tmp_path: Path) -> None:
    dataset = _tiny_beir(tmp_path / "tiny")
    runner = CliRunner(env={"ES_RAG_DATA": str(tmp_path / "data")})  # not the working copy's
    base = ["--url", engine.url, "eval", "--dataset", str(dataset), "--configs", "bm25"]
    result = runner.invoke(cli, [*base, "--json"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.output.strip().splitlines()[-1])
    assert measured["queries"] == 2
    assert measured["configs"]["bm25"]["ndcg@10"] == 1.0

    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"configs": {"bm25": {"ndcg@10": 1.0}}}))
    assert runner.invoke(cli, [*base, "--baseline", str(baseline)]).exit_code == 0

    impossible = {"configs": {"bm25": {"ndcg@10": 1.0, "recall@10": 1.5}}}
    baseline.write_text(json.dumps(impossible))
    gated = runner.invoke(cli, [*base, "--baseline", str(baseline), "--max-drop", "0.01"])
    assert gated.exit_code == 1
    assert "regression" in gated.output and "recall@10" in gated.output
