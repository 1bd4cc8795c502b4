"""Judgments made in the playground, kept in the repository as a TREC qrels file and queries.

`judgments/playground.qrels` holds `query-id 0 doc-id relevance` lines (1 relevant, 0 not) and
`judgments/playground-queries.jsonl` the query texts, so `es-rag eval` and code review see them.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from es_rag.evaluate import Judgments
from es_rag.evaluate.judgments import (
    Qrels,
    read_beir_queries,
    read_trec_qrels,
    write_beir_queries,
    write_trec_qrels,
)

QRELS_FILE = Path("judgments") / "playground.qrels"
QUERIES_FILE = Path("judgments") / "playground-queries.jsonl"
RELEVANT, NOT_RELEVANT = 1, 0


def query_id(text: str) -> str:
    """A stable id for a query text (case and spacing do not matter)."""
    normal = " ".join(text.lower().split())
    return "pg-" + hashlib.sha1(normal.encode("utf-8")).hexdigest()[:12]


class PlaygroundJudgments:
    """The playground's judgment files under an assets folder (the repository)."""

    _lock = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.qrels_path = Path(root) / QRELS_FILE
        self.queries_path = Path(root) / QUERIES_FILE

    def load(self) -> tuple[dict[str, str], Qrels]:
        """(query id → text, qrels) as stored; empty when nothing was judged yet."""
        queries = read_beir_queries(self.queries_path) if self.queries_path.is_file() else {}
        qrels = read_trec_qrels(self.qrels_path) if self.qrels_path.is_file() else {}
        return queries, qrels

    def grades(self, query_text: str) -> dict[str, int]:
        """The documents judged for this query, with their grades."""
        return self.load()[1].get(query_id(query_text), {})

    def mark(self, query_text: str, doc_id: str, grade: int | None) -> str:
        """Judge `doc_id` for the query (1 relevant, 0 not, None forgets); returns the query id."""
        if not query_text.strip():
            raise ValueError("judge a result of a query: the query is empty")
        if not doc_id.strip() or any(ch.isspace() for ch in doc_id):
            raise ValueError(f"document id {doc_id!r} cannot be written to a qrels file")
        if grade not in (RELEVANT, NOT_RELEVANT, None):
            raise ValueError(f"relevance must be {RELEVANT} or {NOT_RELEVANT}, got {grade!r}")
        qid = query_id(query_text)
        with self._lock:
            queries, qrels = self.load()
            docs = qrels.setdefault(qid, {})
            if grade is None:
                docs.pop(doc_id, None)
            else:
                docs[doc_id] = grade
            if not docs:
                del qrels[qid]
            if qid in qrels:
                queries[qid] = " ".join(query_text.split())
            else:
                queries.pop(qid, None)
            write_trec_qrels(self.qrels_path, qrels)
            write_beir_queries(self.queries_path, queries)
        return qid

    def judgments(self) -> Judgments:
        """The judged queries that have at least one relevant document, ready to evaluate."""
        queries, qrels = self.load()
        kept = {q: docs for q, docs in qrels.items()
                if q in queries and any(g > 0 for g in docs.values())}
        return Judgments("playground", {q: queries[q] for q in kept}, kept)
