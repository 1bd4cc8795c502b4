"""Reading judgments: BEIR folders and TREC qrels, and bad files named with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from es_rag.evaluate import JudgmentsError, load_beir, read_qrels, read_trec_qrels
from es_rag.evaluate.subset import Subset, select_documents, select_queries

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "scifact"


def write_beir(root: Path, qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\n"
               "q2\td3\t1\n") -> Path:
    (root / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": f"title {i}", "text": f"text {i}"} for i in range(1, 6)]
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    queries = [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": "second"},
               {"_id": "q3", "text": "never judged"}]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_a_beir_folder_gives_the_judged_queries_and_their_grades(tmp_path):
    dataset = load_beir(write_beir(tmp_path / "tiny"))
    judgments = dataset.judgments
    assert judgments.queries == {"q1": "first", "q2": "second"}  # q3 has no judgments
    assert judgments.qrels == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 1}}
    assert [d.id for d in dataset.corpus()] == ["d1", "d2", "d3", "d4", "d5"]
    assert judgments.name == "tiny/test"


def test_trec_qrels_are_read_and_recognised(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 d1 1\nq1 0 d9 0\n\nq2 Q0 d3 2\n")
    assert read_trec_qrels(path) == {"q1": {"d1": 1, "d9": 0}, "q2": {"d3": 2}}
    assert read_qrels(path) == read_trec_qrels(path)


def test_a_qrels_file_can_replace_the_split(tmp_path):
    root = write_beir(tmp_path / "tiny")
    trec = tmp_path / "other.qrels"
    trec.write_text("q3 0 d5 1\n")
    assert load_beir(root, qrels=trec).judgments.queries == {"q3": "never judged"}


@pytest.mark.parametrize(("qrels", "problem"), [
    ("query-id\tcorpus-id\tscore\nq1\td1\n", "test.tsv:2: expected 3 tab-separated columns"),
    ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", "test.tsv:2: relevance 'high' is not an int"),
    ("qid\tdocid\trel\nq1\td1\t1\n", "test.tsv:1: expected the header"),
    ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t1\n", "test.tsv:3: query 'q1' judges "
                                                          "document 'd1' twice"),
    ("query-id\tcorpus-id\tscore\nq9\td1\t1\n", "judged queries are not in queries.jsonl"),
])
def test_bad_beir_qrels_name_the_file_and_line(tmp_path, qrels, problem):
    root = write_beir(tmp_path / "tiny", qrels)
    with pytest.raises(JudgmentsError, match=problem):
        load_beir(root)


def test_bad_trec_lines_and_json_lines_are_named(tmp_path):
    trec = tmp_path / "run.qrels"
    trec.write_text("q1 0 d1 1\nq1 d2 1\n")
    with pytest.raises(JudgmentsError, match=r"run.qrels:2: expected 4 columns"):
        read_qrels(trec)
    root = write_beir(tmp_path / "tiny")
    with (root / "queries.jsonl").open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(JudgmentsError, match=r"queries.jsonl:4: not valid JSON"):
        load_beir(root)


def test_missing_files_and_splits_are_explained(tmp_path):
    with pytest.raises(JudgmentsError, match="dataset folder not found"):
        load_beir(tmp_path / "nowhere")
    root = write_beir(tmp_path / "tiny")
    with pytest.raises(JudgmentsError, match=r"no qrels for split 'dev' \(available: test\)"):
        load_beir(root, "dev")


def test_the_subset_is_the_first_queries_their_documents_and_distractors(tmp_path):
    dataset = load_beir(write_beir(tmp_path / "tiny"))
    judgments = select_queries(dataset.judgments, Subset(queries=1, distractors=1))
    assert list(judgments.queries) == ["q1"]
    docs = select_documents(dataset, judgments, Subset(queries=1, distractors=1))
    assert [d.id for d in docs] == ["d1", "d2", "d3"]  # judged d1, d2 + first other, d3
    assert Subset(50, 450).label == "q50+d450"


def test_scifact_test_split_has_300_queries_and_339_judgments():
    dataset = load_beir(SCIFACT)
    assert len(dataset.judgments.queries) == 300
    assert sum(len(docs) for docs in dataset.judgments.qrels.values()) == 339
