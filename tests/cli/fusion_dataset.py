"""A tiny BEIR dataset (train and test splits) on which RRF's rank constant decides the winner.

The corpus is the retrieval tests' chunk corpus. With both legs cut to their top 10, the train
query's first hybrid hit is `vpn` with rank_constant 1 and another document with 60 (a strong
single-leg rank against agreement of both legs), so tuning `rank_constant` from a current 60
finds a strictly better setting: the judgments make `vpn` the relevant document.
"""

from __future__ import annotations

import json
from pathlib import Path

from retrieve.corpus import CORPUS

WINDOW = 10
QUERIES = {"train": ("snapshots office", "vpn"), "test": ("days appears", "storage")}


def write_fusion_dataset(root: Path) -> Path:
    """Write the dataset under `root` (corpus.jsonl, queries.jsonl, qrels/train|test.tsv)."""
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": c["doc_id"], "title": c["title"], "text": c["text"]}) + "\n"
        for c in CORPUS))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": f"{split}-q", "text": text}) + "\n"
        for split, (text, _) in QUERIES.items()))
    for split, (_, relevant) in QUERIES.items():
        (root / "qrels" / f"{split}.tsv").write_text(
            f"query-id\tcorpus-id\tscore\n{split}-q\t{relevant}\t1\n")
    return root
