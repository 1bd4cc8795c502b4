"""Inference at index time for `semantic_text` fields, as Elasticsearch's bulk inference filter
runs it: each field's values are chunked and embedded through its endpoint, and the chunks are
recorded under `_inference_fields`. A document that already carries chunks from the same
endpoint for the same text (a reindex) is not sent to the model again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ResourceNotFound
from ..mapping.semantic_text import (
    INFERENCE_FIELDS,
    SEPARATOR,
    field_inference,
    field_value,
    joined_text,
    values_of,
)

if TYPE_CHECKING:
    from ..node import IndexService
    from .service import InferenceService


class SemanticIngest:
    """Adds `_inference_fields` to the documents written to indices with semantic_text."""

    def __init__(self, inference: InferenceService) -> None:
        self.inference = inference

    def __call__(self, svc: IndexService, source: dict[str, Any]) -> dict[str, Any] | None:
        """The source to store (None when it needs no change)."""
        fields = [s for s in svc.mapping.fields.values() if s.type == "semantic_text"]
        if not fields and INFERENCE_FIELDS not in source:
            return None
        out: dict[str, Any] = {}
        for spec in fields:
            texts = {name: text for name in svc.mapping.copy_sources(spec.path)
                     if (text := joined_text(source, name)) is not None}
            if not texts:
                continue
            kept = self._reusable(source, spec.path, spec.params, texts)
            out[spec.path] = {"inference": kept if kept is not None else
                              self._infer(spec.path, spec.params, source, texts)}
        changed = {k: v for k, v in source.items() if k != INFERENCE_FIELDS}
        if out:
            changed[INFERENCE_FIELDS] = out
        return changed if changed != source else None

    @staticmethod
    def _reusable(source: dict[str, Any], path: str, params: dict[str, Any],
                  texts: dict[str, str]) -> dict[str, Any] | None:
        """The recorded inference of a field when it comes from the field's endpoint and its
        chunks cover exactly the current text of each source field."""
        inference = field_inference(source, path)
        if inference is None or inference.get("inference_id") != params.get("inference_id"):
            return None
        recorded = inference.get("chunks")
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
                offsets = backend.chunks(endpoint, value, params.get("chunking_settings"))
                embeddings = backend.embed_chunks(endpoint, value, offsets)
                found += [{"start_offset": offset + a, "end_offset": offset + b,
                           "embeddings": emb}
                          for (a, b), emb in zip(offsets, embeddings, strict=True)]
                offset += len(value) + len(SEPARATOR)
            chunks[name] = found
        return {"inference_id": inference_id,
                "model_settings": backend.model_settings(endpoint), "chunks": chunks}
