"""Relevance judgments from disk: BEIR datasets (corpus, queries, qrels/*.tsv) and TREC qrels.

Every reader names the file and line of bad input (`JudgmentsError`), so a broken dataset is
fixed at the source rather than silently evaluated on fewer queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from es_rag.errors import EsRagError

Qrels = dict[str, dict[str, int]]
"""query id → {document id → relevance grade}."""

BEIR_QRELS_HEADER = ("query-id", "corpus-id", "score")


class JudgmentsError(EsRagError, ValueError):
    """A judgments file cannot be read; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class CorpusDoc:
    """One document of a BEIR corpus."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Judgments:
    """Queries with their relevance judgments; only queries that have judgments are kept."""

    name: str
    queries: dict[str, str]
    qrels: Qrels

    def subset(self, query_ids: Iterable[str]) -> Judgments:
        """The same judgments restricted to `query_ids` (order kept, unknown ids refused)."""
        ids = list(query_ids)
        unknown = [q for q in ids if q not in self.queries]
        if unknown:
            raise JudgmentsError(f"{self.name}: unknown query ids {', '.join(unknown[:5])}")
        return Judgments(self.name, {q: self.queries[q] for q in ids},
                         {q: self.qrels[q] for q in ids})

    @property
    def judged_docs(self) -> set[str]:
        """Every document id that some query judges."""
        return {doc for docs in self.qrels.values() for doc in docs}


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JudgmentsError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "_id" not in record:
            raise JudgmentsError(f"{path}:{number}: expected an object with an \"_id\"")
        yield number, record


def read_beir_queries(path: Path) -> dict[str, str]:
    """`queries.jsonl`: one `{"_id", "text"}` object per line."""
    queries: dict[str, str] = {}
    for number, record in _json_lines(path):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise JudgmentsError(f"{path}:{number}: query {record['_id']!r} has no \"text\"")
        queries[str(record["_id"])] = text
    return queries


def iter_beir_corpus(path: Path, skipped: list[str] | None = None) -> Iterator[CorpusDoc]:
    """`corpus.jsonl`: one `{"_id", "title", "text"}` object per line, in file order.

    An empty or unparsable document raises JudgmentsError naming its line; with `skipped`, it
    is left out and its `file:line: reason` appended there instead (as IR toolkits skip them).
    """
    for number, line in _lines(path):
        try:
            yield _corpus_doc(path, number, line)
        except JudgmentsError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))


def _corpus_doc(path: Path, number: int, line: str) -> CorpusDoc:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise JudgmentsError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or "_id" not in record:
        raise JudgmentsError(f"{path}:{number}: expected an object with an \"_id\"")
    title, text = record.get("title") or "", record.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise JudgmentsError(f"{path}:{number}: \"title\" and \"text\" must be strings")
    if not (title.strip() or text.strip()):
        raise JudgmentsError(f"{path}:{number}: document {record['_id']!r} is empty")
    return CorpusDoc(str(record["_id"]), title, text)


def _grade(path: Path, number: int, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            as_float = None
        if as_float is None or not as_float.is_integer():
            raise JudgmentsError(f"{path}:{number}: relevance {value!r} is not an integer") \
                from None
        return int(as_float)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise JudgmentsError(f"{path}: cannot open ({exc.strerror})") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line.rstrip("\n")


def _add(qrels: Qrels, path: Path, number: int, qid: str, doc: str, grade: int) -> None:
    if doc in qrels.setdefault(qid, {}):
        raise JudgmentsError(f"{path}:{number}: query {qid!r} judges document {doc!r} twice")
    qrels[qid][doc] = grade


def read_beir_qrels(path: Path) -> Qrels:
    """BEIR `qrels/<split>.tsv`: a `query-id, corpus-id, score` header, then tab-separated rows."""
    qrels: Qrels = {}
    rows = _lines(path)
    first = next(rows, None)
    if first is None:
        raise JudgmentsError(f"{path}: empty qrels file")
    header = tuple(part.strip() for part in first[1].split("\t"))
    if header != BEIR_QRELS_HEADER:
        expected = "\t".join(BEIR_QRELS_HEADER)
        raise JudgmentsError(f"{path}:{first[0]}: expected the header {expected!r}, "
                             f"got {first[1]!r}")
    for number, line in rows:
        parts = line.split("\t")
        if len(parts) != 3:
            raise JudgmentsError(f"{path}:{number}: expected 3 tab-separated columns "
                                 f"(query-id, corpus-id, score), got {len(parts)}")
        _add(qrels, path, number, parts[0].strip(), parts[1].strip(),
             _grade(path, number, parts[2].strip()))
    return qrels


def read_trec_qrels(path: Path) -> Qrels:
    """TREC qrels: whitespace-separated `query-id iteration doc-id relevance` per line."""
    qrels: Qrels = {}
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 4:
            raise JudgmentsError(f"{path}:{number}: expected 4 columns "
                                 f"(query-id iteration doc-id relevance), got {len(parts)}")
        _add(qrels, path, number, parts[0], parts[2], _grade(path, number, parts[3]))
    return qrels


def read_qrels(path: Path) -> Qrels:
    """Qrels in either format: BEIR for `.tsv` files or a BEIR header line, else TREC."""
    first = next(_lines(path), None)
    if path.suffix == ".tsv" or (
            first is not None and first[1].split("\t")[0].strip() == BEIR_QRELS_HEADER[0]):
        return read_beir_qrels(path)
    return read_trec_qrels(path)


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset folder: where its corpus is, and the judgments of one split."""

    root: Path
    split: str
    judgments: Judgments
    skipped: list[str] = field(default_factory=list, compare=False)
    """The corpus lines left out by the last `corpus()` pass (empty or unparsable documents)."""

    @property
    def corpus_path(self) -> Path:
        return self.root / "corpus.jsonl"

    def corpus(self) -> Iterator[CorpusDoc]:
        """The corpus documents in file order; empty or unparsable ones are counted in
        `skipped`, not evaluated."""
        self.skipped.clear()
        return iter_beir_corpus(self.corpus_path, self.skipped)


def load_beir(root: Path | str, split: str = "test", qrels: Path | str | None = None
              ) -> BeirDataset:
    """Read a BEIR folder (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`).

    `qrels` overrides the split's file (BEIR or TREC format). Judged queries missing from
    `queries.jsonl` are an error; queries without judgments are left out.
    """
    root = Path(root)
    if not root.is_dir():
        raise JudgmentsError(f"{root}: dataset folder not found")
    for needed in ("corpus.jsonl", "queries.jsonl"):
        if not (root / needed).is_file():
            raise JudgmentsError(f"{root}: no {needed} (a BEIR dataset has corpus.jsonl, "
                                 "queries.jsonl and qrels/<split>.tsv)")
    qrels_path = Path(qrels) if qrels else root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise JudgmentsError(f"{qrels_path}: no qrels for split {split!r} "
                             f"(available: {', '.join(splits) or 'none'})")
    judged = read_qrels(qrels_path)
    all_queries = read_beir_queries(root / "queries.jsonl")
    missing = [q for q in judged if q not in all_queries]
    if missing:
        raise JudgmentsError(f"{qrels_path}: {len(missing)} judged queries are not in "
                             f"queries.jsonl (first: {missing[0]!r})")
    judgments = Judgments(f"{root.name}/{split}", {q: all_queries[q] for q in judged}, judged)
    return BeirDataset(root, split, judgments)


def read_judgments(path: Path | str, queries: Path | str | None = None,
                   split: str = "test") -> Judgments:
    """Judgments for evaluating the live index: a BEIR folder (`queries.jsonl` and
    `qrels/<split>.tsv`; its corpus is not read), or a qrels file (TREC or BEIR) with its
    queries.

    The queries of a qrels file come from `queries`, else from `<name>-queries.jsonl` beside
    it (what the playground writes next to `playground.qrels`), else `queries.jsonl` there.
    Only queries with at least one relevant document are kept.
    """
    path = Path(path)
    if path.is_dir():
        qrels_path = path / "qrels" / f"{split}.tsv"
        if not qrels_path.is_file():
            splits = sorted(p.stem for p in (path / "qrels").glob("*.tsv"))
            raise JudgmentsError(f"{qrels_path}: no qrels for split {split!r} "
                                 f"(available: {', '.join(splits) or 'none'})")
        name, queries_path = f"{path.name}/{split}", Path(queries or path / "queries.jsonl")
    else:
        if not path.is_file():
            raise JudgmentsError(f"{path}: no such judgments file or BEIR folder")
        qrels_path, name = path, path.stem
        beside = [path.with_name(f"{path.stem}-queries.jsonl"), path.with_name("queries.jsonl")]
        found = [p for p in beside if p.is_file()]
        if queries is None and not found:
            raise JudgmentsError(f"{path}: no queries for these judgments: give --queries, or "
                                 f"put them in {beside[0].name} or {beside[1].name} beside it")
        queries_path = Path(queries) if queries else found[0]
    qrels = read_qrels(qrels_path)
    texts = read_beir_queries(queries_path)
    missing = [q for q in qrels if q not in texts]
    if missing:
        raise JudgmentsError(f"{qrels_path}: {len(missing)} judged queries are not in "
                             f"{queries_path.name} (first: {missing[0]!r})")
    kept = {q: docs for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    if not kept:
        raise JudgmentsError(f"{qrels_path}: no query has a document judged relevant")
    return Judgments(name, {q: texts[q] for q in kept}, kept)


def write_trec_qrels(path: Path, qrels: Qrels) -> None:
    """Write qrels as TREC lines `query-id 0 doc-id relevance`, sorted, atomically."""
    lines = [f"{qid} 0 {doc} {grade}\n" for qid in sorted(qrels)
             for doc, grade in sorted(qrels[qid].items())]
    _write_atomically(path, "".join(lines))


def write_beir_queries(path: Path, queries: Mapping[str, str]) -> None:
    """Write queries as BEIR `queries.jsonl` (`{"_id", "text"}` per line), atomically."""
    lines = [json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n"
             for qid, text in sorted(queries.items())]
    _write_atomically(path, "".join(lines))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
