"""Document operations (index, create, update, delete, get, mget, bulk) on top of the shards.

Version checks, `op_type`, optimistic concurrency and partial updates are decided here, under the
shard lock, against the real-time state (the store plus earlier items of the same batch).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .date_math_names import resolve as resolve_date_math_name
from .errors import BadRequest, EngineError, VersionConflict
from .index.mapping import ParsedDocument
from .index.mapping.nested import check_nested_objects_limit
from .index.mapping.semantic_text import without_stale_inference
from .index.shard import Delete, Put
from .node import IndexService, Node
from .search.shard_order import shard_of
from .source_filter import filter_source, hidden_metadata, parse_source_spec
from .storage.docstore import DocVersion, StoredDoc, Tombstone
from .write_request import WriteRequest, WriteResult, check_depth, check_id, deep_merge, new_id

if TYPE_CHECKING:
    from .security.fls import FieldAccess
    from .security.read_scope import ReadScope

Pipeline = Callable[[str, str | None, dict[str, Any], str | None], Any]
Authorizer = Callable[["WriteRequest", bool], None]
"""Raises the item's error unless the current user may perform the write (True: a bulk item)."""
ShardAuthorizer = Callable[[list[str]], None]
"""Raises unless the current user may send a bulk's items to one index under all these names."""


@dataclass
class _Batch:
    """The real-time state a batch of writes sees: versions of stored docs and tombstones of
    its ids, as changed by its earlier items (whole docs), and the operations to store."""

    docs: dict[str, StoredDoc | DocVersion | None]
    tombstones: dict[str, Tombstone]
    shards: dict[str, int]
    """the `_shards` of every response of the batch (one object, shared)"""
    ops: list[Put | Delete] = field(default_factory=list)

    def put(self, op: Put) -> None:
        self.ops.append(op)
        self.docs[op.doc.id] = op.doc

    def delete(self, tombstone: Tombstone, replaces: int | None) -> None:
        self.ops.append(Delete(tombstone, replaces))
        self.docs[tombstone.id] = None
        self.tombstones[tombstone.id] = tombstone


def _conflict(svc: IndexService, doc_id: str, reason: str) -> VersionConflict:
    return VersionConflict(f"[{doc_id}]: version conflict, {reason}", index_uuid=svc.uuid,
                           shard="0", index=svc.name)


class Documents:
    """The document service of a node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.pipeline: Pipeline | None = None
        self.authorize: Authorizer | None = None
        self.authorize_shard: ShardAuthorizer | None = None
        # semantic_text inference: the source to store instead, or None (inference/)
        self.semantic: Callable[[IndexService, dict[str, Any]], dict[str, Any] | None] | \
            None = None
        # ... and the same for a whole bulk at once: [(index, sources)] → a context to write in
        self.semantic_batch: Callable[[list[tuple[IndexService, list[dict[str, Any]]]]],
                                      AbstractContextManager[None]] | None = None

    # -- reads ------------------------------------------------------------------------------
    def get(self, index: str, doc_id: str, source_spec: Any = None, includes: Any = None,
            excludes: Any = None, stored_fields: str | None = None, *, read_scope: ReadScope,
            realtime: bool = True, refresh: bool = False, routing: str | None = None
            ) -> tuple[dict[str, Any], bool]:
        """A get response body and whether the document was found; a document `read_scope`
        does not admit is not found.

        Real-time by default; `realtime=False` reads what the last refresh made visible, as
        Elasticsearch reads from the searcher then (a document indexed since is not found; one
        updated since is given in its current version), and `refresh` refreshes first.
        In an index created with several shards, a get looks in the shard its `routing` (else
        its id) routes to, so a document indexed with another routing is not found there."""
        svc = self.node.get_index(index)
        if refresh:
            svc.shard.refresh()
        doc = svc.shard.store.get(doc_id)
        if doc is not None and not realtime and not svc.shard.refreshed(doc_id):
            doc = None
        shards = int(svc.setting("number_of_shards", 1))
        if doc is not None and shards > 1 and \
                shard_of(routing or doc_id, shards) != shard_of(doc.routing or doc_id, shards):
            doc = None
        if doc is not None and not read_scope.admits(svc.name, doc_id):
            doc = None
        if stored_fields is not None and source_spec is None and includes is None:
            source_spec = False
        visible = read_scope.fields(svc.name)
        body = self.render_get(svc, doc_id, doc, source_spec, includes, excludes,
                               visible=visible)
        if doc is not None and stored_fields:
            fields = {}
            source = doc.source_json()
            for name in stored_fields.split(","):
                if visible is not None and not visible.allows(name):
                    continue
                spec = svc.mapping.fields.get(name)
                if spec is not None and spec.params.get("store") and name in source:
                    value = source[name]
                    fields[name] = value if isinstance(value, list) else [value]
            if fields:
                body["fields"] = fields
        return body, doc is not None

    @staticmethod
    def render_get(svc: IndexService, doc_id: str, doc: StoredDoc | None, source_spec: Any,
                   includes: Any = None, excludes: Any = None, *,
                   visible: FieldAccess | None = None) -> dict[str, Any]:
        """The body of a get (or mget item) for a stored document or a miss; `visible`: the
        fields field-level security shows (None: all)."""
        if doc is None:
            return {"_index": svc.name, "_id": doc_id, "found": False}
        body: dict[str, Any] = {"_index": svc.name, "_id": doc_id, "_version": doc.version,
                                "_seq_no": doc.seq_no, "_primary_term": doc.primary_term,
                                "found": True}
        if doc.routing is not None:
            body["_routing"] = doc.routing
        fetch, inc, exc = parse_source_spec(source_spec, includes, excludes)
        if fetch and svc.mapping.source_enabled:
            source = doc.source_json()
            if visible is not None:
                source = visible.filter_source(source)
            body["_source"] = filter_source(source, inc,
                                            hidden_metadata(source_spec, inc, exc))
        return body

    def refresh(self, names: set[str]) -> None:
        """Refresh the indices named (those a write with `?refresh` reached)."""
        for name in names:
            svc = self.node.indices.get(name)
            if svc is not None:
                svc.shard.refresh()

    # -- writes -----------------------------------------------------------------------------
    def write(self, requests: list[WriteRequest], *, bulk: bool = False) -> list[WriteResult]:
        """Apply writes in order; each gets its own result (a failure does not stop the rest).

        Each write is authorized on its own target (after its ingest pipeline, which may change
        it); `bulk` says the writes are bulk items (reindex and delete-by-query write so too)."""
        results: list[WriteResult | None] = [None] * len(requests)
        groups: dict[str, list[tuple[int, WriteRequest]]] = {}
        targets: dict[tuple[str, bool, bool], IndexService] = {}  # resolved once per request
        checked: dict[tuple[str, str], EngineError | None] = {}  # authorized once per request
        refused: list[tuple[int, WriteRequest]] = []  # items refused on an existing index
        for pos, req in enumerate(requests):
            try:
                req.index = resolve_date_math_name(req.index)
                self._run_pipeline(req)
                req.index = resolve_date_math_name(req.index)  # `date_index_name` sets one
                if req.op != "delete" and req.source is None and req.update is None:
                    results[pos] = self._dropped(req)
                    continue
                self._authorize(req, bulk, checked)
                target = (req.index, req.op == "delete", req.require_alias)
                svc = targets.get(target)
                if svc is None:
                    svc = targets[target] = self._target(req)
            except EngineError as err:
                results[pos] = self._error(req, err)
                if err.status == 403:
                    refused.append((pos, req))
                continue
            groups.setdefault(svc.name, []).append((pos, req))
        if bulk and self.authorize_shard is not None:
            self._authorize_shards(groups, refused, results)
        with self._semantic_batch(groups):
            for name, items in groups.items():
                svc = self.node.indices.get(name)
                if svc is None:
                    continue
                for pos, result in self._write_group(svc, items):
                    results[pos] = result
        return [r if r is not None else self._error(req, EngineError("write failed"))
                for r, req in zip(results, requests, strict=True)]

    def _authorize_shards(self, groups: dict[str, list[tuple[int, WriteRequest]]],
                          refused: list[tuple[int, WriteRequest]],
                          results: list[WriteResult | None]) -> None:
        """Authorize the bulk's request to each index as Elasticsearch authorizes a bulk shard
        request (`indices:data/write/bulk[s]`) on every name its items use: when the user may
        not write through one of them (a read-only alias of the same write index), every item
        sent to that index fails with that refusal, the permitted ones too."""
        assert self.authorize_shard is not None
        shards: dict[str, list[tuple[int, WriteRequest]]] = {k: list(v) for k, v in groups.items()}
        for pos, req in refused:
            with suppress(EngineError):  # a missing index or alias: no shard request
                shards.setdefault(self.node.write_index(req.index, auto_create=False).name,
                                  []).append((pos, req))
        for name, items in shards.items():
            try:
                self.authorize_shard(list(dict.fromkeys(req.index for _, req in items)))
            except EngineError as err:
                groups.pop(name, None)
                for pos, req in items:
                    results[pos] = self._error(req, err)

    def _semantic_batch(self, groups: dict[str, list[tuple[int, WriteRequest]]]
                        ) -> AbstractContextManager[None]:
        """semantic_text inference for a whole bulk at once, before the shard locks."""
        if self.semantic_batch is None:
            return nullcontext()
        work = [(svc, [req.source for _, req in items if req.op in ("index", "create")
                       and isinstance(req.source, dict)])
                for name, items in groups.items()
                if (svc := self.node.indices.get(name)) is not None]
        return self.semantic_batch(work)

    def _run_pipeline(self, req: WriteRequest) -> None:
        if req.op not in ("index", "create") or self.pipeline is None or req.source is None:
            return
        original = req.source
        outcome = self.pipeline(req.index, req.id, req.source, req.pipeline)
        if outcome is None:
            req.source = None
            return
        req.index, req.id, req.source = outcome.index, outcome.doc_id, outcome.source
        if outcome.routing is not None:
            req.routing = outcome.routing
        if outcome.version is not None:  # `_version` / `_version_type` set by a processor
            req.version = outcome.version
            req.version_type = outcome.version_type or "internal"
            req.version_from_pipeline = True
        executed = getattr(outcome, "executed_pipelines", None)
        if executed:
            req.executed_pipelines = list(executed)
        if executed or outcome.source is not original:
            req.raw_source = None

    def _authorize(self, req: WriteRequest, bulk: bool,
                   checked: dict[tuple[str, str], EngineError | None]) -> None:
        if self.authorize is None:
            return
        key = (req.op, req.index)
        if key not in checked:
            try:
                self.authorize(req, bulk)
                checked[key] = None
            except EngineError as err:
                checked[key] = err
        refused = checked[key]
        if refused is not None:
            raise refused

    @staticmethod
    def _dropped(req: WriteRequest) -> WriteResult:
        body = {"_index": req.index, "_id": req.id, "_version": -3, "result": "noop",
                "_shards": {"total": 0, "successful": 0, "failed": 0}}
        return WriteResult(body, 200)

    def _target(self, req: WriteRequest) -> IndexService:
        if req.require_alias and req.index not in self.node.alias_names():
            raise EngineError(f"no such index [{req.index}] and [require_alias] "
                              f"request flag is [true] and [{req.index}] is not an alias",
                              status=404, error_type="index_not_found_exception",
                              index=req.index)
        return self.node.write_index(req.index, auto_create=req.op != "delete")

    @staticmethod
    def _error(req: WriteRequest, err: EngineError) -> WriteResult:
        body = {"_index": req.index, "_id": req.id, "status": err.status, "error": err.cause()}
        return WriteResult(body, err.status, err)

    def _write_group(self, svc: IndexService, items: list[tuple[int, WriteRequest]]
                     ) -> list[tuple[int, WriteResult]]:
        shard = svc.shard
        out: list[tuple[int, WriteResult]] = []
        with shard.lock:
            ids = [req.id for _, req in items if req.id is not None]
            found = shard.store.versions(ids)
            batch = _Batch({i: found.get(i) for i in ids},
                           shard.store.tombstones(i for i in ids if i not in found),
                           self._shards(svc))
            for pos, req in items:
                try:
                    result = self._one(svc, req, batch)
                except EngineError as err:
                    result = self._error(req, err)
                    result.body["_index"] = svc.name
                out.append((pos, result))
            if batch.ops:
                shard.write(batch.ops)
        return out

    @staticmethod
    def _current(doc_id: str, batch: _Batch) -> StoredDoc | DocVersion | None:
        return batch.docs.get(doc_id)

    def _check(self, svc: IndexService, req: WriteRequest, doc_id: str,
               current: StoredDoc | DocVersion | None, batch: _Batch) -> None:
        if req.if_seq_no is not None or req.if_primary_term is not None:
            if req.if_seq_no is None or req.if_primary_term is None:
                raise BadRequest("ifSeqNo is set, but primary term is [0]")
            if current is None:
                raise _conflict(svc, doc_id, f"required seqNo [{req.if_seq_no}], primary term "
                                f"[{req.if_primary_term}]. but no document was found")
            if current.seq_no != req.if_seq_no or current.primary_term != req.if_primary_term:
                raise _conflict(svc, doc_id, f"required seqNo [{req.if_seq_no}], primary term "
                                f"[{req.if_primary_term}]. current document has seqNo "
                                f"[{current.seq_no}] and primary term "
                                f"[{current.primary_term}]")
        if req.version is not None and req.version_type in ("external", "external_gt",
                                                             "external_gte"):
            existing = current.version if current else None
            if existing is None:
                tomb = batch.tombstones.get(doc_id)
                existing = tomb.version if tomb else None
            if existing is not None:
                ok = req.version >= existing if req.version_type == "external_gte" \
                    else req.version > existing
                if not ok:
                    raise _conflict(svc, doc_id, f"current version [{existing}] is higher or "
                                    f"equal to the one provided [{req.version}]")
        elif req.version is not None and req.version_from_pipeline:
            if current is None or current.version != req.version:
                raise _conflict(svc, doc_id, "document does not exist (current version [-1])"
                                if current is None else f"current version [{current.version}] "
                                f"is different than the one provided [{req.version}]")
        elif req.version is not None and (current is None or current.version != req.version):
            raise BadRequest("internal versioning can not be used for optimistic concurrency "
                             "control. Please use `if_seq_no` and `if_primary_term` instead",
                             error_type="action_request_validation_exception")

    @staticmethod
    def _next_version(req: WriteRequest, doc_id: str, current: StoredDoc | DocVersion | None,
                      batch: _Batch) -> int:
        if req.version is not None and req.version_type.startswith("external"):
            return req.version
        if current is not None:
            return current.version + 1
        tomb = batch.tombstones.get(doc_id)
        return tomb.version + 1 if tomb else 1

    def _shards(self, svc: IndexService) -> dict[str, int]:
        replicas = int(svc.setting("number_of_replicas", "1") or 1)
        return {"total": 1 + replicas, "successful": 1, "failed": 0}

    def _one(self, svc: IndexService, req: WriteRequest, batch: _Batch) -> WriteResult:
        shard = svc.shard
        if req.op == "update":
            return self._update(svc, req, batch)
        doc_id = req.id if req.id is not None else new_id()
        if req.op in ("index", "create") and req.id is not None:
            check_id(doc_id)
        current = self._current(doc_id, batch)
        if req.op == "create" and current is not None:
            raise _conflict(svc, doc_id, f"document already exists (current version "
                            f"[{current.version}])")
        self._check(svc, req, doc_id, current, batch)
        version = self._next_version(req, doc_id, current, batch)
        base = {"_index": svc.name, "_id": doc_id, "_version": version}
        if req.op == "delete":
            seq_no = shard.allocate_seq_no()
            if current is None:
                result = {**base, "result": "not_found", "_shards": batch.shards,
                          "_seq_no": seq_no, "_primary_term": shard.primary_term}
                batch.delete(Tombstone(doc_id, seq_no, version), None)
                return WriteResult(result, 404)
            batch.delete(Tombstone(doc_id, seq_no, version), current.seq_no)
            return WriteResult({**base, "result": "deleted", "_shards": batch.shards,
                                "_seq_no": seq_no, "_primary_term": shard.primary_term}, 200)
        assert req.source is not None
        seq_no = self._put(svc, doc_id, req.source, version, req.routing, current, batch,
                           req.raw_source)
        result = "created" if current is None else "updated"
        return WriteResult({**base, "result": result, "_shards": batch.shards,
                            "_seq_no": seq_no, "_primary_term": shard.primary_term},
                           201 if current is None else 200)

    def _put(self, svc: IndexService, doc_id: str, source: dict[str, Any], version: int,
             routing: str | None, current: StoredDoc | DocVersion | None,
             batch: _Batch, raw: bytes | None = None) -> int:
        """Parse and queue a document version; returns its `_seq_no`. `raw` is the source as
        the client sent it (kept byte for byte, as Elasticsearch keeps `_source`)."""
        if not isinstance(source, dict):
            raise EngineError("failed to parse, document is empty" if not source else
                              "request body or source parameter is required", status=400,
                              error_type="document_parsing_exception")
        if self.semantic is not None:
            enriched = self.semantic(svc, source)
            if enriched is not None:
                source, raw = enriched, None
        parsed = self._parse(svc, source, doc_id)
        shard = svc.shard
        seq_no = shard.allocate_seq_no()
        stored = StoredDoc(doc_id, seq_no, version, shard.primary_term,
                           raw if raw is not None else orjson.dumps(source), routing,
                           parsed.vectors)
        text = shard.fulltext.document(seq_no, doc_id, parsed)
        batch.put(Put(stored, text, current.seq_no if current else None,
                      parsed if parsed.nested else None))
        return seq_no

    def _parse(self, svc: IndexService, source: dict[str, Any], doc_id: str) -> ParsedDocument:
        check_depth(source, int(svc.setting("mapping.depth.limit", "20")))
        parsed = svc.mapping.parse(source, doc_id)
        if parsed.nested:
            check_nested_objects_limit(parsed, svc.settings)
        if parsed.new_properties:
            try:
                merged = svc.mapping.merged({"properties": parsed.new_properties})
            except EngineError as err:
                raise EngineError(err.reason, status=400,
                                  error_type="document_parsing_exception") from err
            self.node.update_mapping(svc, merged)
        return parsed

    def _update(self, svc: IndexService, req: WriteRequest, batch: _Batch) -> WriteResult:
        body = req.update or {}
        allowed = {"doc", "upsert", "doc_as_upsert", "detect_noop", "_source", "script",
                   "scripted_upsert", "if_seq_no", "if_primary_term", "lang", "params"}
        for key in body:
            if key not in allowed:
                raise EngineError(f"[UpdateRequest] unknown field [{key}]", status=400,
                                  error_type="x_content_parse_exception")
        if "script" in body:
            raise BadRequest("update scripts are not supported by the embedded engine; use a "
                             "partial [doc] update")
        doc_id = req.id
        if doc_id is None:
            raise BadRequest("id is missing", error_type="action_request_validation_exception")
        patch = body.get("doc")
        if patch is None and "upsert" not in body:
            raise EngineError("Validation Failed: 1: script or doc is missing;", status=400,
                              error_type="action_request_validation_exception")
        if patch is not None and not isinstance(patch, dict):
            raise EngineError("[UpdateRequest] failed to parse field [doc]", status=400,
                              error_type="x_content_parse_exception")
        shard = svc.shard
        current = self._current(doc_id, batch)
        self._check(svc, req, doc_id, current, batch)
        if isinstance(current, DocVersion):  # unchanged by the batch so far: read its source
            current = shard.store.get(doc_id)
        if current is None:
            if body.get("doc_as_upsert") and patch is not None:
                source = patch
            elif "upsert" in body:
                source = body["upsert"]
            else:
                raise EngineError(f"[{doc_id}]: document missing", status=404,
                                  error_type="document_missing_exception", index_uuid=svc.uuid,
                                  shard="0", index=svc.name)
            version = self._next_version(req, doc_id, None, batch)
            seq_no = self._put(svc, doc_id, source, version, req.routing, None, batch)
            result, status = "created", 201
        else:
            old_source = current.source_json()
            source = without_stale_inference(svc.mapping.copy_sources, deep_merge(
                old_source, patch or {}), patch or {})
            if body.get("detect_noop", True) and source == old_source:
                return WriteResult(self._update_body(svc, req, doc_id, current.version, "noop",
                                                     current.seq_no, current.primary_term,
                                                     old_source, noop=True), 200)
            version = current.version + 1
            seq_no = self._put(svc, doc_id, source, version, req.routing, current, batch)
            result, status = "updated", 200
        return WriteResult(self._update_body(svc, req, doc_id, version, result, seq_no,
                                             shard.primary_term, source), status)

    def _update_body(self, svc: IndexService, req: WriteRequest, doc_id: str, version: int,
                     result: str, seq_no: int, term: int, source: dict[str, Any],
                     noop: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"_index": svc.name, "_id": doc_id, "_version": version,
                                "result": result}
        body["_shards"] = {"total": 0, "successful": 0, "failed": 0} if noop \
            else self._shards(svc)
        body["_seq_no"] = seq_no
        body["_primary_term"] = term
        spec = req.source_spec if req.source_spec is not None else \
            (req.update or {}).get("_source")
        if spec is not None and spec is not False and spec != "false":
            fetch, inc, exc = parse_source_spec(spec)
            if fetch:
                body["get"] = {"_seq_no": seq_no, "_primary_term": term, "found": True,
                               "_source": filter_source(source, inc, exc)}
        return body
