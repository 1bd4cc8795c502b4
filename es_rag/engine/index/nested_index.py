"""The nested objects of one index: per top-level nested field, a full-text index and vector
fields whose documents are the field's objects (keyed by `child_key(root _seq_no, offset)`,
`_id` = the root document's id), derived from the document store like the shard's own indexes.

A `NestedLevel` serves as the shard of the query context a `nested` query compiles its inner
query in, so every clause (and knn over a nested vector) runs unchanged on nested objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..storage.docstore import DocStore, StoredDoc
from .fulltext import ID, FullTextIndex, schema_signature
from .mapping import Mapping, ParsedDocument
from .mapping.nested import child_key, level_fields, level_of, root_key
from .mapping.parsed import NestedObject
from .vectors import VectorField


class NestedLevel:
    """The objects of one nested field (duck-types the parts of `Shard` queries read)."""

    def __init__(self, root: Path, path: str, mapping: Mapping, store: DocStore) -> None:
        self.root = root
        self.path = path
        self.mapping = mapping
        self.store = store
        self.fulltext = FullTextIndex(root / "fulltext", self.signature(mapping))
        self.vectors: dict[str, VectorField] = {}
        self.children: dict[int, list[int]] = {}  # root key -> keys of its objects with vectors

    def signature(self, mapping: Mapping) -> list[list[str]]:
        return schema_signature(level_fields(mapping, self.path))

    def objects(self, parsed: ParsedDocument) -> list[NestedObject]:
        return [obj for obj in parsed.nested if obj.path == self.path]

    def add(self, doc: StoredDoc, parsed: ParsedDocument) -> None:
        for obj in self.objects(parsed):
            key = child_key(doc.seq_no, obj.offset)
            self.fulltext.add(key, doc.id, obj.parsed)
            for path, vector in obj.parsed.vectors.items():
                field = self.vectors.get(path)
                if field is not None:
                    field.add(key, vector)
                    self.children.setdefault(doc.seq_no, []).append(key)

    def remove(self, doc_id: str, replaced: int | None) -> None:
        """Drop the objects of a replaced or deleted root document."""
        self.fulltext.writer.delete_documents_by_term(ID, doc_id)
        self.fulltext._dirty = True
        if replaced is not None:
            for key in set(self.children.pop(replaced, ())):
                for field in self.vectors.values():
                    field.delete(key)

    def catch_up(self, parse: Callable[[StoredDoc], ParsedDocument]) -> None:
        """Replay what the full-text index's last commit lacks."""
        ft = self.fulltext
        for tomb in self.store.deleted_since(ft.checkpoint):
            ft.writer.delete_documents_by_term(ID, tomb.id)
            ft._dirty = True
        for doc in self.store.since(ft.checkpoint):
            ft.writer.delete_documents_by_term(ID, doc.id)
            ft._dirty = True
            for obj in self.objects(parse(doc)):
                ft.add(child_key(doc.seq_no, obj.offset), doc.id, obj.parsed)
        ft.commit(self.store.max_seq_no)

    def sync_vectors(self, parse: Callable[[StoredDoc], ParsedDocument]) -> None:
        """Open the vector field of every dense_vector of this level, replaying its tail."""
        for spec in level_fields(self.mapping, self.path):
            if spec.type != "dense_vector" or spec.path in self.vectors or \
                    "dims" not in spec.params:
                continue
            (self.root / "vectors").mkdir(parents=True, exist_ok=True)
            field = VectorField(self.root / "vectors", spec.path, spec.params)
            if field.checkpoint < self.store.max_seq_no:
                for doc in self.store.since(field.checkpoint):
                    for obj in self.objects(parse(doc)):
                        vector = obj.parsed.vectors.get(spec.path)
                        if vector is not None:
                            field.add(child_key(doc.seq_no, obj.offset), vector)
                live_roots = set(self.store.all_seq_nos())
                for key in [k for k in field.live if root_key(k) not in live_roots]:
                    field.delete(key)
                field.refresh(self.store.max_seq_no)
            for key in field.live:
                self.children.setdefault(root_key(key), []).append(key)
            self.vectors[spec.path] = field

    def refresh(self, checkpoint: int) -> None:
        self.fulltext.commit(checkpoint)
        for field in self.vectors.values():
            field.refresh(checkpoint)

    def size_bytes(self) -> int:
        return self.fulltext.size_bytes() + sum(f.size_bytes() for f in self.vectors.values())

    def close(self) -> None:
        for field in self.vectors.values():
            field.close()
        self.fulltext.close()


class NestedIndexes:
    """The nested levels of one shard (one per top-level nested field)."""

    def __init__(self, root: Path, mapping: Mapping, store: DocStore,
                 parse: Callable[[StoredDoc], ParsedDocument]) -> None:
        self.root = root
        self.store = store
        self.parse = parse
        self.levels: dict[str, NestedLevel] = {}
        self.sync(mapping)

    def sync(self, mapping: Mapping) -> None:
        """Follow a mapping: open new levels, rebuild a level whose schema changed."""
        for path in mapping.nested_paths:
            if level_of(mapping.nested_paths, path) is not None:
                continue  # objects of deeper nested fields are not indexed
            level = self.levels.get(path)
            if level is None:
                level = self.levels[path] = NestedLevel(self.root / path, path, mapping,
                                                        self.store)
                level.catch_up(self.parse)
            else:
                level.mapping = mapping
                signature = level.signature(mapping)
                if signature != level.fulltext.signature:
                    level.fulltext.reset(signature)
                    level.catch_up(self.parse)
            level.sync_vectors(self.parse)

    def write(self, ops: Iterable[Any]) -> None:
        """Feed a stored batch of the shard's `Put`s and `Delete`s to every level (call with
        the shard lock held)."""
        for op in ops:
            put = getattr(op, "doc", None)  # a Put (a Delete has a tombstone)
            doc_id = put.id if put is not None else op.tombstone.id
            for level in self.levels.values():
                if op.replaces is not None:
                    level.remove(doc_id, op.replaces)
                if put is not None and op.parsed is not None:
                    level.add(put, op.parsed)

    def refresh(self, checkpoint: int) -> None:
        for level in self.levels.values():
            level.refresh(checkpoint)

    def save_vectors(self) -> None:
        for level in self.levels.values():
            for field in list(level.vectors.values()):
                field.save()

    def size_bytes(self) -> int:
        return sum(level.size_bytes() for level in self.levels.values())

    def close(self) -> None:
        for level in self.levels.values():
            level.close()
