"""The full-text index of one index: a tantivy index whose schema follows the mapping.

BM25 is computed here, by tantivy, with Lucene's formula (k1=1.2, b=0.75, including the
(k1+1) factor and Lucene's one-byte field-length encoding), so `_score` equals Elasticsearch's.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tantivy

from .analysis import preparation, prepared, register_all, tokenizer_name
from .mapping import FLOAT_TYPES, INTEGER_TYPES, FieldSpec, ParsedDocument

KEY = "_key"
ID = "_id"
FIELD_NAMES = "_field_names"


def schema_signature(fields: Iterable[FieldSpec]) -> list[list[str]]:
    """The part of a mapping that shapes the tantivy schema (a change means a rebuild)."""
    out = []
    for spec in fields:
        kind = field_kind(spec)
        if kind is not None:
            # date_nanos holds nanoseconds (an index that held milliseconds is rebuilt)
            out.append([spec.path, kind, spec.analyzer if kind == "text" else
                        "nanos" if spec.type == "date_nanos" else ""])
    return sorted(out)


def field_kind(spec: FieldSpec) -> str | None:
    """How a mapped field is held in tantivy: text, keyword, int, float, bool, ip, or None."""
    if spec.type in ("text", "match_only_text"):
        return "text" if spec.indexed else None
    if spec.type == "keyword":
        return "keyword"
    if spec.type in INTEGER_TYPES or spec.type in ("date", "date_nanos"):
        return "int"
    if spec.type in FLOAT_TYPES:
        return "float"
    if spec.type == "boolean":
        return "bool"
    if spec.type == "ip":
        return "ip"
    return None


def _build_schema(signature: list[list[str]]) -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field(KEY, stored=False, indexed=True, fast=True)
    builder.add_text_field(ID, stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field(FIELD_NAMES, tokenizer_name="raw", index_option="basic")
    for path, kind, analyzer_name in signature:
        if kind == "text":
            builder.add_text_field(path, tokenizer_name=tokenizer_name(analyzer_name),
                                   index_option="position")
        elif kind == "keyword":
            builder.add_text_field(path, tokenizer_name="raw", fast=True, index_option="freq")
        elif kind == "int":
            builder.add_integer_field(path, indexed=True, fast=True)
        elif kind == "float":
            builder.add_float_field(path, indexed=True, fast=True)
        elif kind == "ip":
            builder.add_ip_addr_field(path, indexed=True, fast=True)
        else:
            builder.add_boolean_field(path, indexed=True, fast=True)
    return builder.build()


class FullTextIndex:
    """A tantivy index plus the `_seq_no` checkpoint of its last commit."""

    def __init__(self, root: Path, signature: list[list[str]]) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._state_path = root / "state.json"
        state = json.loads(self._state_path.read_text()) if self._state_path.exists() else {}
        self.checkpoint: int = -1
        self.generation: int = state.get("generation", 0)
        # field path -> the first `_seq_no` indexed with it, for fields a mapping update added
        # (documents stored before keep being indexed without them, as in Elasticsearch)
        self.since: dict[str, int] = state.get("since", {})
        if state.get("signature") == signature and (self._dir()).exists():
            self.checkpoint = state.get("checkpoint", -1)
            self.signature = signature
            self._open(signature, create=False)
        else:
            self.signature = signature
            self._open_fresh(signature)
        self._lock = threading.Lock()

    def _dir(self) -> Path:
        return self.root / f"gen-{self.generation}"

    def _open_fresh(self, signature: list[list[str]]) -> None:
        old = self._dir()
        self.generation += 1
        self.checkpoint = -1
        self._open(signature, create=True)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)

    def _open(self, signature: list[list[str]], create: bool) -> None:
        path = self._dir()
        path.mkdir(parents=True, exist_ok=True)
        self.schema = _build_schema(signature)
        self.index = tantivy.Index(self.schema, path=str(path), reuse=not create)
        register_all(self.index)
        self.writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        self.index.reload()
        self.searcher = self.index.searcher()
        self.kinds = {p: k for p, k, _ in signature}
        self.analyzers = {p: a for p, k, a in signature if k == "text"}
        self._dirty = False

    def reset(self, signature: list[list[str]]) -> None:
        """Start an empty index with a new schema (the caller re-adds every document)."""
        self.signature = signature
        self.writer = None
        self._open_fresh(signature)
        self._save_state()

    def document(self, key: int, doc_id: str, parsed: ParsedDocument) -> tantivy.Document:
        """The tantivy document of one document version, for `add_document`."""
        doc = tantivy.Document()
        doc.add_integer(KEY, key)
        doc.add_text(ID, doc_id)
        for name in parsed.field_names:
            doc.add_text(FIELD_NAMES, name)
        kinds = self.kinds
        texts: dict[tuple[str, str], str] = {}  # a text prepared once for all its analyzers
        for path, values in parsed.values.items():
            kind = kinds.get(path)
            if kind is None:
                continue
            for value in values:
                if kind == "text":
                    step = (preparation(self.analyzers[path], value), value)
                    text = texts.get(step)
                    if text is None:
                        text = texts[step] = prepared(*step)
                    doc.add_text(path, text)
                elif kind == "keyword":
                    doc.add_text(path, value)
                elif kind == "int":
                    doc.add_integer(path, value)
                elif kind == "float":
                    doc.add_float(path, value)
                elif kind == "ip":
                    doc.add_ip_addr(path, value)
                else:
                    doc.add_boolean(path, value)
        return doc

    def add_document(self, doc: tantivy.Document) -> None:
        """Add a document made by `document` (uncommitted until `commit`)."""
        self.writer.add_document(doc)
        self._dirty = True

    def add(self, key: int, doc_id: str, parsed: ParsedDocument) -> None:
        """Add one document version (uncommitted until `commit`)."""
        self.add_document(self.document(key, doc_id, parsed))

    def delete(self, key: int) -> None:
        """Delete one document version by its key."""
        self.writer.delete_documents_by_term(KEY, key)
        self._dirty = True

    def commit(self, checkpoint: int) -> None:
        """Commit, reopen the searcher, and persist the checkpoint `_seq_no`."""
        if self._dirty:
            self.writer.commit()
            self.index.reload()
            self.searcher = self.index.searcher()
            self._dirty = False
        if checkpoint != self.checkpoint:
            self.checkpoint = checkpoint
            self._save_state()

    def _save_state(self) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"signature": self.signature, "checkpoint": self.checkpoint,
                                   "generation": self.generation, "since": self.since}))
        os.replace(tmp, self._state_path)

    def count(self, query: tantivy.Query) -> int:
        """How many documents match (scoring disabled: cheaper than a scored search)."""
        return self.searcher.search(tantivy.Query.const_score_query(query, 1.0), 1,
                                    count=True).count

    def has_id(self, doc_id: str) -> bool:
        """Whether a version of document `doc_id` is in the last refreshed searcher."""
        query = tantivy.Query.term_query(self.schema, ID, doc_id)
        return self.searcher.search(query, 1, count=True).count > 0

    def ids_of(self, addresses: list[Any]) -> list[str]:
        """`_id` of documents by address in the current searcher (slow path, few documents)."""
        return [self.searcher.doc(a).get_first(ID) for a in addresses]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._dir().glob("*") if p.is_file())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.wait_merging_threads()
            self.writer = None
