"""Inference at index time for `semantic_text` fields, as Elasticsearch's bulk inference filter
runs it: each field's values are chunked and embedded through its endpoint, and the chunks are
recorded under `_inference_fields` (or, in an index using the legacy format, in the field's own
value: `{"text", "inference": {..., "chunks": [{"text", "embeddings"}]}}`). A document that
already carries chunks from the same endpoint for the same text (a reindex) is not sent to the
model again. A bulk request embeds all its values in one batch per endpoint before its documents
are written (`batched`), outside the shard lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, ResourceNotFound
from ..index.mapping.semantic_text import (
    INFERENCE_FIELDS,
    SEPARATOR,
    field_inference,
    field_value,
    joined_text,
    legacy_object,
    uses_legacy_format,
    values_of,
)

if TYPE_CHECKING:
    from ..node import IndexService
    from .service import InferenceService


class SemanticIngest:
    """Adds `_inference_fields` to the documents written to indices with semantic_text."""

    def __init__(self, inference: InferenceService) -> None:
        self.inference = inference
        # (inference_id, chunking, value) → (offsets, embeddings) of the batch being written
        self._batch = threading.local()

    @contextmanager
    def batched(self, work: list[tuple[IndexService, list[dict[str, Any]]]]) -> Iterator[None]:
        """Embed every value the sources of a write will need, one model call per endpoint;
        the documents then take their chunks from it. A failure here is left to the documents
        (each reports its own error)."""
        cache: dict[tuple[str, str, str], tuple[list[tuple[int, int]], list[Any]]] = {}
        try:
            self._prefetch(work, cache)
        except EngineError:
            cache.clear()
        self._batch.cache = cache
        try:
            yield
        finally:
            self._batch.cache = None

    def _prefetch(self, work: list[tuple[IndexService, list[dict[str, Any]]]],
                  cache: dict[tuple[str, str, str], Any]) -> None:
        pending: dict[str, dict[tuple[str, str], dict[str, Any] | None]] = {}
        for svc, sources in work:
            fields = [s for s in svc.mapping.fields.values() if s.type == "semantic_text"]
            for source in sources if fields else ():
                for spec in fields:
                    texts = {name: text for name in svc.mapping.copy_sources(spec.path)
                             if (text := joined_text(source, name)) is not None}
                    if not texts or self._reusable(source, spec.path, spec.params, texts,
                                                   uses_legacy_format(svc.settings)):
                        continue
                    chunking = spec.params.get("chunking_settings")
                    wanted = pending.setdefault(spec.params["inference_id"], {})
                    for name in texts:
                        for value in values_of(field_value(source, name)):
                            wanted[(_key(chunking), value)] = chunking
        for inference_id, wanted in pending.items():
            endpoint = self.inference.endpoints.get(inference_id)
            if endpoint is None or len(wanted) < 2:
                continue
            self.inference.require_license()
            backend = self.inference.backend(endpoint)
            items = [(value, backend.chunks(endpoint, value, chunking))
                     for (_, value), chunking in wanted.items()]
            for ((key, value), _), (_, offsets), embeddings in zip(
                    wanted.items(), items, backend.embed_many(endpoint, items), strict=True):
                cache[(inference_id, key, value)] = (offsets, embeddings)

    def __call__(self, svc: IndexService, source: dict[str, Any]) -> dict[str, Any] | None:
        """The source to store (None when it needs no change)."""
        fields = [s for s in svc.mapping.fields.values() if s.type == "semantic_text"]
        if not fields and INFERENCE_FIELDS not in source:
            return None
        legacy = uses_legacy_format(svc.settings)
        out: dict[str, Any] = {}
        for spec in fields:
            texts = {name: text for name in svc.mapping.copy_sources(spec.path)
                     if (text := joined_text(source, name)) is not None}
            if not texts:
                continue
            kept = self._reusable(source, spec.path, spec.params, texts, legacy)
            out[spec.path] = {"inference": kept if kept is not None else
                              self._infer(spec.path, spec.params, source, texts)}
        changed = {k: v for k, v in source.items() if k != INFERENCE_FIELDS}
        if out and legacy:
            for path, record in out.items():
                _set_field(changed, path, _legacy_value(source, path, record["inference"]))
        elif out:
            changed[INFERENCE_FIELDS] = out
        return changed if changed != source else None

    @staticmethod
    def _reusable(source: dict[str, Any], path: str, params: dict[str, Any],
                  texts: dict[str, str], legacy: bool) -> dict[str, Any] | None:
        """The recorded inference of a field when it comes from the field's endpoint and its
        chunks cover exactly the current text of each source field."""
        inference = field_inference(source, path)
        if inference is None or inference.get("inference_id") != params.get("inference_id"):
            return None
        recorded = inference.get("chunks")
        if isinstance(recorded, list):  # a legacy-format value carries its own text
            ok = legacy and legacy_object(field_value(source, path)) is not None and \
                set(texts) == {path} \
                and bool(recorded) and all(isinstance(c, dict) and "embeddings" in c and
                                           isinstance(c.get("text"), str) for c in recorded)
            return inference if ok else None
        if not isinstance(recorded, dict) or set(recorded) != set(texts):
            return None
        for name, text in texts.items():
            chunks = recorded[name]
            try:
                ends = [int(c["end_offset"]) for c in chunks]
                starts = [int(c["start_offset"]) for c in chunks]
            except (KeyError, TypeError, ValueError):
                return None
            if not chunks or min(starts) < 0 or max(ends) != len(text) or \
                    any("embeddings" not in c for c in chunks):
                return None
        return inference

    def _infer(self, path: str, params: dict[str, Any], source: dict[str, Any],
               texts: dict[str, str]) -> dict[str, Any]:
        inference_id = params["inference_id"]
        endpoint = self.inference.endpoints.get(inference_id)
        if endpoint is None:
            raise ResourceNotFound(f"Inference id [{inference_id}] not found for field "
                                   f"[{path}]")
        self.inference.require_license()
        backend = self.inference.backend(endpoint)
        chunks: dict[str, list[dict[str, Any]]] = {}
        for name in texts:
            found: list[dict[str, Any]] = []
            offset = 0
            for value in values_of(field_value(source, name)):
                chunking = params.get("chunking_settings")
                hit = (getattr(self._batch, "cache", None) or {}).get(
                    (inference_id, _key(chunking), value))
                if hit is not None:
                    offsets, embeddings = hit
                else:
                    offsets = backend.chunks(endpoint, value, chunking)
                    embeddings = backend.embed_chunks(endpoint, value, offsets)
                found += [{"start_offset": offset + a, "end_offset": offset + b,
                           "embeddings": emb}
                          for (a, b), emb in zip(offsets, embeddings, strict=True)]
                offset += len(value) + len(SEPARATOR)
            chunks[name] = found
        return {"inference_id": inference_id,
                "model_settings": backend.model_settings(endpoint), "chunks": chunks}


def _legacy_value(source: dict[str, Any], path: str, inference: dict[str, Any]
                  ) -> dict[str, Any]:
    """A semantic_text field's value in the legacy format: its own text (if it has a value of
    its own, not only copies) and its chunks, each with its text."""
    chunks = inference.get("chunks")
    if isinstance(chunks, dict):  # offsets into each source field's joined text
        listed = []
        for name, items in chunks.items():
            text = joined_text(source, name) or ""
            listed += [{"text": text[c["start_offset"]:c["end_offset"]],
                        "embeddings": c["embeddings"]} for c in items]
        inference = {**inference, "chunks": listed}
    own = values_of(field_value(source, path))
    out: dict[str, Any] = {}
    if own:
        out["text"] = own[0] if len(own) == 1 else own
    out["inference"] = inference
    return out


def _set_field(source: dict[str, Any], path: str, value: Any) -> None:
    """Put a field's value where `field_value` reads it (objects are copied, not changed)."""
    head, dot, rest = path.partition(".")
    if dot and isinstance(source.get(head), dict) and path not in source:
        child = dict(source[head])
        _set_field(child, rest, value)
        source[head] = child
    else:
        source[path] = value


def _key(chunking: dict[str, Any] | None) -> str:
    return json.dumps(chunking, sort_keys=True)
