"""One index's data: the durable document store plus its full-text and vector indexes.

Where a bulk item becomes durable: `Shard.write` commits the batch to SQLite (`DocStore.apply`)
before anything is acknowledged; the tantivy and HNSW indexes are derived from it and catch up
from the store on open (each keeps the `_seq_no` checkpoint it last committed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tantivy

from ..storage.docstore import DocStore, StoredDoc, Tombstone
from .fulltext import FullTextIndex, schema_signature
from .mapping import Mapping, ParsedDocument
from .mapping.nested import level_of, root_fields
from .nested_index import NestedIndexes
from .vectors import VectorField


@dataclass(slots=True)
class Put:
    """A document version to store (its vectors in `doc.vectors`), its full-text document and
    the key it replaces."""

    doc: StoredDoc
    text: tantivy.Document
    replaces: int | None
    parsed: ParsedDocument | None = None  # for the nested objects it holds


@dataclass(slots=True)
class Delete:
    """A delete to store, with the key of the version it removes."""

    tombstone: Tombstone
    replaces: int | None


SEARCH_IDLE_AFTER = 30.0
"""Seconds without a search after which automatic refreshes stop (ES `index.search.idle.after`)."""


class Shard:
    """The single shard of an index."""

    primary_term = 1

    def __init__(self, root: Path, mapping: Mapping) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.mapping = mapping
        self.lock = threading.RLock()
        self.store = DocStore(root / "docs.sqlite")
        self.next_seq_no = self.store.max_seq_no + 1
        self.fulltext = FullTextIndex(root / "fulltext", schema_signature(root_fields(mapping)))
        self.vectors: dict[str, VectorField] = {}
        self._dirty = False
        self.last_search = time.monotonic()
        # open reader contexts (scroll, point in time), told of versions a write will replace
        self.readers: list[Callable[[Shard, list[int]], None]] = []
        self._catch_up()
        self.nested = NestedIndexes(root / "nested", mapping, self.store, self._parse_stored)

    # -- opening and mapping changes -------------------------------------------------------
    def _catch_up(self) -> None:
        """Replay into the derived indexes what their last commit lacks."""
        ft = self.fulltext
        for tomb in self.store.deleted_since(ft.checkpoint):
            ft.writer.delete_documents_by_term("_id", tomb.id)
            ft._dirty = True
        for doc in self.store.since(ft.checkpoint):
            ft.writer.delete_documents_by_term("_id", doc.id)
            ft.add(doc.seq_no, doc.id, self._without_later_fields(doc, self._parse_stored(doc)))
        ft.commit(self.store.max_seq_no)
        self._sync_vector_fields()

    def _parse_stored(self, doc: StoredDoc) -> ParsedDocument:
        try:
            return self.mapping.parse(doc.source_json(), doc.id)
        except Exception:  # a stored doc that no longer parses is kept, but not indexed
            return ParsedDocument()

    def _without_later_fields(self, doc: StoredDoc, parsed: ParsedDocument) -> ParsedDocument:
        """`parsed` without the fields a mapping update added after `doc` was written: as in
        Elasticsearch, a new field (or multi-field) is indexed for documents written from then
        on, and existing ones gain it only when reindexed (`_update_by_query`)."""
        later = {path for path, since in self.fulltext.since.items() if since > doc.seq_no}
        if later:
            for path in later:
                parsed.values.pop(path, None)
            parsed.field_names -= later
        return parsed

    def _sync_vector_fields(self) -> None:
        for path, spec in self.mapping.fields.items():
            if spec.type != "dense_vector" or path in self.vectors or \
                    "dims" not in spec.params or level_of(self.mapping.nested_paths, path):
                continue
            field = VectorField(self.root / "vectors", path, spec.params)
            (self.root / "vectors").mkdir(exist_ok=True)
            if field.checkpoint < self.store.max_seq_no:
                for doc in self.store.since(field.checkpoint):
                    vector = self._parse_stored(doc).vectors.get(path)
                    if vector is not None:
                        field.add(doc.seq_no, vector)
                stale = field.live - set(self.store.all_seq_nos())
                for key in stale:
                    field.delete(key)
                field.refresh(self.store.max_seq_no)
            self.vectors[path] = field

    def set_mapping(self, mapping: Mapping) -> None:
        """Adopt a merged mapping; a new indexed field rebuilds the full-text index from store
        (the documents stored so far without that field, see `_without_later_fields`)."""
        with self.lock:
            self.mapping = mapping
            signature = schema_signature(root_fields(mapping))
            if signature != self.fulltext.signature:
                known = {path for path, _, _ in self.fulltext.signature}
                for path, _, _ in signature:
                    # an alias is its target read under another name (not a new indexed field)
                    if path not in known and path not in mapping.aliases:
                        self.fulltext.since.setdefault(path, self.next_seq_no)
                self.fulltext.reset(signature)
                self._catch_up()
            else:
                self._sync_vector_fields()
            self.nested.sync(mapping)

    # -- writes ------------------------------------------------------------------------------
    def allocate_seq_no(self) -> int:
        """The next `_seq_no` (call with the lock held)."""
        seq_no = self.next_seq_no
        self.next_seq_no += 1
        return seq_no

    def write(self, ops: list[Put | Delete]) -> None:
        """Make a batch durable, then feed it to the derived indexes (call with the lock held)."""
        replaced = [op.replaces for op in ops if op.replaces is not None]
        for keep in list(self.readers) if replaced else ():
            keep(self, replaced)
        self.store.apply([op.doc if isinstance(op, Put) else op.tombstone for op in ops])
        for op in ops:
            if op.replaces is not None:
                self.fulltext.delete(op.replaces)
                for field in self.vectors.values():
                    field.delete(op.replaces)
            if isinstance(op, Put):
                self.fulltext.add_document(op.text)
                for path, vector in (op.doc.vectors or {}).items():
                    if path in self.vectors:
                        self.vectors[path].add(op.doc.seq_no, vector)
        if self.nested.levels:
            self.nested.write(ops)
        self._dirty = True

    # -- refresh and durability of derived indexes ------------------------------------------
    def refresh(self) -> bool:
        """Make every acknowledged write visible to search; True if anything changed."""
        with self.lock:
            if not self._dirty:
                return False
            checkpoint = self.next_seq_no - 1
            self.fulltext.commit(checkpoint)
            for field in self.vectors.values():
                field.refresh(checkpoint)
            self.nested.refresh(checkpoint)
            self._dirty = False
            return True

    def refreshed(self, doc_id: str) -> bool:
        """Whether the last refresh made a version of document `doc_id` searchable."""
        return self.fulltext.has_id(doc_id)

    def searched(self, idle_refresh: bool) -> None:
        """Note a search; a search-idle shard with pending writes refreshes first."""
        now = time.monotonic()
        idle = now - self.last_search >= SEARCH_IDLE_AFTER
        self.last_search = now
        if idle and idle_refresh and self._dirty:
            self.refresh()

    def search_idle(self) -> bool:
        """No search for `SEARCH_IDLE_AFTER` seconds (automatic refreshes are skipped)."""
        return time.monotonic() - self.last_search >= SEARCH_IDLE_AFTER

    def save_vectors(self) -> None:
        """Persist the HNSW graphs so that a restart replays only the tail."""
        for field in list(self.vectors.values()):
            field.save()
        self.nested.save_vectors()

    def size_bytes(self) -> int:
        return (self.store.size_bytes() + self.fulltext.size_bytes()
                + sum(f.size_bytes() for f in self.vectors.values())
                + self.nested.size_bytes())

    def close(self) -> None:
        with self.lock:
            self.refresh()
            for field in self.vectors.values():
                field.close()
            self.nested.close()
            self.fulltext.close()
            self.store.close()
