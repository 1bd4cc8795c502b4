"""Training queries for fine-tuning: judged queries with their relevant passages, or
pseudo-queries mined from the corpus itself (titles, headings, inverse-cloze sentences).

Supervision comes from training judgments only: `--dataset DIR` reads `qrels/train.tsv` (never
the test split, so evaluation on test stays honest); `--judgments FILE` reads the team's qrels.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from es_rag.errors import EsRagError
from es_rag.evaluate.corpus import corpus_digest
from es_rag.evaluate.judgments import CorpusDoc, iter_beir_corpus, load_beir, read_judgments

TRAIN_SPLIT = "train"
MIN_SENTENCE_WORDS = 6  # shorter sentences make poor inverse-cloze queries
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


class TrainingDataError(EsRagError, ValueError):
    """The training data cannot be read or is too small; the message names the problem."""


@dataclass(frozen=True)
class TrainingQuery:
    """A query with the documents relevant to it and the passage text each is trained on."""

    qid: str
    text: str
    positives: tuple[str, ...]
    """Document ids; never used as negatives for this query."""
    positive_texts: tuple[str, ...]
    """What the model learns to match with the query (one per positive)."""


@dataclass
class TrainingData:
    """Training queries and the passage text of every document they may meet."""

    source: str
    queries: list[TrainingQuery]
    passages: dict[str, str]
    fingerprint: str
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {"source": self.source, "fingerprint": self.fingerprint,
                "queries": len(self.queries), "passages": len(self.passages),
                "pairs": sum(len(q.positives) for q in self.queries)}


def passage_text(doc: CorpusDoc) -> str:
    """Title and text, as the evaluation index embeds a document."""
    return f"{doc.title}\n{doc.text}" if doc.title else doc.text


def digest(*parts: str | bytes) -> str:
    """A short SHA-256 of `parts` (each terminated, so ("ab", "c") differs from ("a", "bc"))."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(part if isinstance(part, bytes) else part.encode())
        hashed.update(b"\0")
    return hashed.hexdigest()[:32]


def _judged(source: str, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]],
            passages: dict[str, str], fingerprint: str) -> TrainingData:
    training: list[TrainingQuery] = []
    skipped: list[str] = []
    for qid, text in queries.items():
        relevant = tuple(d for d, grade in sorted(qrels[qid].items()) if grade > 0)
        known = tuple(d for d in relevant if d in passages)
        if not known:
            skipped.append(f"query {qid}: no relevant document in the corpus")
            continue
        training.append(TrainingQuery(qid, text, known, tuple(passages[d] for d in known)))
    if not training:
        raise TrainingDataError(f"{source}: no training query has a relevant document in the "
                                "corpus")
    return TrainingData(source, training, passages, fingerprint, skipped)


def from_dataset(root: Path) -> TrainingData:
    """The BEIR folder's training judgments (`qrels/train.tsv`) over its corpus."""
    dataset = load_beir(root, TRAIN_SPLIT)
    passages = {doc.id: passage_text(doc) for doc in iter_beir_corpus(dataset.corpus_path)}
    qrels_path = dataset.root / "qrels" / f"{TRAIN_SPLIT}.tsv"
    judged = dataset.judgments
    fingerprint = digest(qrels_path.read_bytes(), corpus_digest(dataset.corpus_path),
                          json.dumps(judged.queries, sort_keys=True))
    return _judged(f"{dataset.root.name}/{TRAIN_SPLIT}", judged.queries, judged.qrels,
                   passages, fingerprint)


def index_passages(client: Elasticsearch, index: str,
                   doc_ids: Iterable[str] | None = None) -> dict[str, str]:
    """The text of each document in the chunk index `index` (title, then its chunks in order);
    all documents, or those of `doc_ids`."""
    query = ({"match_all": {}} if doc_ids is None
             else {"terms": {"doc_id": sorted(set(doc_ids))}})
    chunks: dict[str, list[tuple[int, str, str]]] = {}
    for hit in helpers.scan(client, index=index, query={"query": query},
                            _source=["doc_id", "ordinal", "title", "text"]):
        source = hit["_source"]
        chunks.setdefault(str(source.get("doc_id") or hit["_id"]), []).append(
            (int(source.get("ordinal") or 0), str(source.get("title") or ""),
             str(source.get("text") or "")))
    passages: dict[str, str] = {}
    for doc_id, parts in chunks.items():
        parts.sort()
        title = parts[0][1]
        text = " ".join(p[2] for p in parts)
        passages[doc_id] = f"{title}\n{text}" if title else text
    return passages


def from_judgments(path: Path, client: Elasticsearch, index: str,
                   queries: Path | None = None) -> TrainingData:
    """The team's judgments (a qrels file or BEIR folder, its train split) over the live index."""
    judged = read_judgments(path, queries, split=TRAIN_SPLIT)
    relevant = {d for docs in judged.qrels.values() for d, g in docs.items() if g > 0}
    passages = index_passages(client, index, relevant)
    source_bytes = (path / "qrels" / f"{TRAIN_SPLIT}.tsv").read_bytes() if path.is_dir() \
        else path.read_bytes()
    fingerprint = digest(source_bytes, json.dumps(judged.queries, sort_keys=True),
                          json.dumps(passages, sort_keys=True))
    return _judged(f"judgments:{path.name}", judged.queries, judged.qrels, passages, fingerprint)


def sentences(text: str) -> list[str]:
    """The sentences of `text` (split after . ! ? before a capital or digit)."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def pseudo_queries(docs: Sequence[tuple[str, str, Sequence[str], str]], *, max_queries: int,
                   seed: int = 13) -> list[TrainingQuery]:
    """Queries from the corpus itself, for a corpus without judgments.

    `docs` are (doc id, title, headings, text). Each document yields its title and its headings
    as queries for its text, and one inverse-cloze query: a sentence drawn from the text, whose
    positive is the text without that sentence. At most `max_queries`, drawn evenly.
    """
    rng = random.Random(seed)
    found: list[TrainingQuery] = []
    for doc_id, title, headings, text in docs:
        if not text.strip():
            continue
        for n, heading in enumerate(dict.fromkeys(h for h in [title, *headings] if h.strip())):
            found.append(TrainingQuery(f"{doc_id}:title{n}", heading, (doc_id,), (text,)))
        candidates = [s for s in sentences(text) if len(s.split()) >= MIN_SENTENCE_WORDS]
        if len(candidates) >= 2:
            chosen = rng.choice(candidates)
            rest = " ".join(s for s in sentences(text) if s != chosen)
            found.append(TrainingQuery(f"{doc_id}:cloze", chosen, (doc_id,),
                                       (f"{title}\n{rest}" if title else rest,)))
    rng.shuffle(found)
    return found[:max_queries]


def unsupervised_from_dataset(root: Path, *, max_queries: int, seed: int = 13) -> TrainingData:
    """Pseudo-queries from a BEIR folder's corpus; no judgments are read."""
    corpus = Path(root) / "corpus.jsonl"
    if not corpus.is_file():
        raise TrainingDataError(f"{root}: no corpus.jsonl")
    docs = list(iter_beir_corpus(corpus))
    queries = pseudo_queries([(d.id, d.title, (), d.text) for d in docs],
                             max_queries=max_queries, seed=seed)
    return _unsupervised(f"{Path(root).name}/corpus", queries,
                         {d.id: passage_text(d) for d in docs},
                         digest(corpus_digest(corpus), str(max_queries), str(seed)))


def unsupervised_from_index(client: Elasticsearch, index: str, *, max_queries: int,
                            seed: int = 13) -> TrainingData:
    """Pseudo-queries from the live chunk index (titles, headings, sentences of its chunks)."""
    docs: list[tuple[str, str, Sequence[str], str]] = []
    for hit in helpers.scan(client, index=index, query={"query": {"match_all": {}}},
                            _source=["doc_id", "title", "headings", "text"]):
        source = hit["_source"]
        headings = source.get("headings") or []
        docs.append((str(source.get("doc_id") or hit["_id"]), str(source.get("title") or ""),
                     [headings] if isinstance(headings, str) else list(headings),
                     str(source.get("text") or "")))
    docs.sort()
    passages = index_passages(client, index)
    queries = pseudo_queries(docs, max_queries=max_queries, seed=seed)
    return _unsupervised(f"index:{index}", queries, passages,
                         digest(json.dumps(passages, sort_keys=True), str(max_queries),
                                 str(seed)))


def _unsupervised(source: str, queries: list[TrainingQuery], passages: dict[str, str],
                  fingerprint: str) -> TrainingData:
    if len(queries) < 2:
        raise TrainingDataError(f"{source}: the corpus yields {len(queries)} pseudo-queries; "
                                "at least 2 are needed (titles, headings or sentences of "
                                f"{MIN_SENTENCE_WORDS}+ words)")
    return TrainingData(f"unsupervised:{source}", queries, passages, fingerprint)


def split_held_out(queries: Sequence[TrainingQuery], fraction: float, seed: int
                   ) -> tuple[list[TrainingQuery], list[TrainingQuery]]:
    """(train, held out): a seeded `fraction` of the queries (at least one) held back for early
    stopping and the before/after metrics."""
    if len(queries) < 2:
        raise TrainingDataError(f"{len(queries)} training query: at least 2 are needed (one "
                                "is held back to decide when to stop)")
    order = sorted(queries, key=lambda q: q.qid)
    random.Random(seed).shuffle(order)
    held = max(1, round(len(order) * fraction))
    return order[held:], order[:held]
