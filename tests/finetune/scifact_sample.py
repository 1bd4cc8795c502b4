"""A handful of SciFact, as a BEIR folder: training queries with their documents, a few
distractors, and test judgments (which fine-tuning must never read)."""

from __future__ import annotations

import json
from pathlib import Path

from es_rag.config import PROJECT_ROOT

SCIFACT = PROJECT_ROOT.parent / "shared" / "datasets" / "scifact"
TRAIN_QUERIES = 8
TEST_QUERIES = 3
DISTRACTORS = 16


def _qrels(path: Path) -> list[tuple[str, str, str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]
    return [(q, d, s.strip()) for q, d, s in rows]


def _first_queries(rows: list[tuple[str, str, str]], n: int) -> list[tuple[str, str, str]]:
    chosen = list(dict.fromkeys(q for q, _, _ in rows))[:n]
    return [r for r in rows if r[0] in chosen]


def write_sample(root: Path) -> Path:
    """Write the sample under `root` (corpus.jsonl, queries.jsonl, qrels/{train,test}.tsv)."""
    train = _first_queries(_qrels(SCIFACT / "qrels" / "train.tsv"), TRAIN_QUERIES)
    test = _first_queries(_qrels(SCIFACT / "qrels" / "test.tsv"), TEST_QUERIES)
    wanted = {d for _, d, _ in train + test}
    docs: list[str] = []
    others = 0
    with (SCIFACT / "corpus.jsonl").open() as corpus:
        for line in corpus:
            doc_id = json.loads(line)["_id"]
            if doc_id in wanted:
                docs.append(line)
            elif others < DISTRACTORS:
                docs.append(line)
                others += 1
    queries = {q for q, _, _ in train + test}
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(docs))
    with (SCIFACT / "queries.jsonl").open() as all_queries:
        (root / "queries.jsonl").write_text("".join(
            line for line in all_queries if json.loads(line)["_id"] in queries))
    for name, rows in (("train", train), ("test", test)):
        (root / "qrels" / f"{name}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows))
    return root
