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
        recorded = source.get(INFERENCE_FIELDS)
        recorded = dict(recorded) if isinstance(recorded, dict) else {}
        out: dict[str, Any] = {}
        for spec in fields:
            text = joined_text(source, spec.path)
            if text is None:
                continue
            kept = self._reusable(source, spec.path, spec.params, text)
            out[spec.path] = kept if kept is not None else {
                "inference": self._infer(spec.path, spec.params, source, text)}
        changed = {k: v for k, v in source.items() if k != INFERENCE_FIELDS}
        if out:
            changed[INFERENCE_FIELDS] = out
        return changed if changed != source else None

    @staticmethod
    def _reusable(source: dict[str, Any], path: str, params: dict[str, Any], text: str
                  ) -> dict[str, Any] | None:
        """The recorded chunks of a field when they come from its endpoint and cover exactly
        its current text."""
        inference = field_inference(source, path)
        if inference is None or inference.get("inference_id") != params.get("inference_id"):
            return None
        chunks = (inference.get("chunks") or {}).get(path)
        if not isinstance(chunks, list) or not chunks:
            return None
        try:
            ends = [int(c["end_offset"]) for c in chunks]
            starts = [int(c["start_offset"]) for c in chunks]
        except (KeyError, TypeError, ValueError):
            return None
        if min(starts) < 0 or max(ends) != len(text) or any("embeddings" not in c
                                                             for c in chunks):
            return None
        return {"inference": inference}

    def _infer(self, path: str, params: dict[str, Any], source: dict[str, Any], text: str
               ) -> dict[str, Any]:
        inference_id = params["inference_id"]
        endpoint = self.inference.endpoints.get(inference_id)
        if endpoint is None:
            raise ResourceNotFound(f"Inference id [{inference_id}] not found for field "
                                   f"[{path}]")
        self.inference.require_license()
        backend = self.inference.backend(endpoint)
        node: Any = source
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            node = source.get(path)
        chunks: list[dict[str, Any]] = []
        offset = 0
        for value in values_of(node):
            offsets = backend.chunks(endpoint, value, params.get("chunking_settings"))
            embeddings = backend.embed_chunks(endpoint, value, offsets)
            chunks += [{"start_offset": offset + a, "end_offset": offset + b,
                        "embeddings": emb} for (a, b), emb in zip(offsets, embeddings,
                                                                 strict=True)]
            offset += len(value) + len(SEPARATOR)
        return {"inference_id": inference_id,
                "model_settings": backend.model_settings(endpoint),
                "chunks": {path: chunks}}
