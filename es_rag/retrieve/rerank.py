"""Rerank stages: re-score the top fused hits with a stronger model and re-order them.

No PyPI package carries trained cross-encoder weights, so the offline default is
`EmbeddingReranker` (the embedding model scores query against the full passage text, fresh);
`CrossEncoderReranker` runs a cross-encoder from a local path (`es-rag finetune reranker`), on
`rerank.backend`: ONNX Runtime (`onnx-int8`, `onnx`: `es_rag.retrieve.rerank_onnx`, no torch) or
sentence-transformers' CrossEncoder (`torch`), its logit blended with the fused score by the
weight `es-rag finetune reranker` chose on held-out queries. A loaded model is kept for the
process, so only the first rerank of a server pays for loading it. Nothing here downloads
weights.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from es_rag.embedding.protocols import DocumentEmbedder
from es_rag.finetune.manifest import recorded_manifest
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.params import RerankSettings

log = logging.getLogger(__name__)

_loaded: dict[tuple[str, str, int | None], Any] = {}
_loading = threading.Lock()


def load_cross_encoder(model: str | Path, backend: str = "torch",
                       max_length: int | None = None) -> Any:
    """The cross-encoder at `model` on `backend`, loaded once per process (an object with
    `predict(pairs, batch_size)`). An ONNX backend that cannot run the model raises
    OnnxBackendError, and raises it again at once on later calls (no second export attempt)."""
    key = (str(Path(model).expanduser().resolve()), backend, max_length)
    with _loading:
        found = _loaded.get(key)
        if found is None:
            if backend == "torch":
                from sentence_transformers import CrossEncoder
                from torch.nn import Identity

                found = CrossEncoder(key[0], local_files_only=True, max_length=max_length,
                                     activation_fn=Identity())  # logits, as `blend` expects
            else:
                from es_rag.embedding.onnx_model import OnnxBackendError
                from es_rag.retrieve.rerank_onnx import OnnxCrossEncoder

                try:
                    found = OnnxCrossEncoder(key[0], quantized=backend == "onnx-int8",
                                             **({} if max_length is None else
                                                {"max_length": max_length}))
                except OnnxBackendError as exc:
                    found = exc
            _loaded[key] = found
    if isinstance(found, Exception):
        raise found.with_traceback(None)
    return found


class Reranker(Protocol):
    """A stage that takes hits in fused order and returns them re-scored and re-ordered."""

    name: str

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]: ...


def _apply_scores(hits: Sequence[Hit], scores: Sequence[float]) -> list[Hit]:
    """Hits with rerank scores, best first; hits beyond `scores` keep their order after them."""
    scored = [replace(h, rerank_score=float(s), score=float(s)) for h, s in zip(hits, scores,
                                                                                 strict=False)]
    scored.sort(key=lambda h: -(h.rerank_score or 0.0))
    return scored + list(hits[len(scores):])


def blend(fused: Sequence[float], reranked: Sequence[float], weight: float) -> list[float]:
    """`weight` × the reranker's scores + (1 − `weight`) × the fused ones, each min-max
    normalised over the list (a constant list counts as 0), so the scales need not agree."""
    def unit(values: Sequence[float]) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        span = float(v.max() - v.min()) if len(v) else 0.0
        return (v - v.min()) / span if span > 0 else np.zeros_like(v)
    if weight >= 1.0:
        return [float(s) for s in reranked]
    return (weight * unit(reranked) + (1.0 - weight) * unit(fused)).tolist()


def blend_weight(model: str | Path) -> float:
    """The reranker weight recorded in a fine-tuned model folder's manifest
    (`metrics.blend.weight`); 1.0 (the reranker alone) for any other model."""
    try:
        return float((recorded_manifest(model) or {})["metrics"]["blend"]["weight"])
    except (ValueError, KeyError, TypeError):
        return 1.0


class EmbeddingReranker:
    """Re-scores hits by cosine similarity of query and full chunk text, embedded fresh.

    >>> reranker = EmbeddingReranker(embedder)           # doctest: +SKIP
    >>> reranker.rerank("what is RRF?", result.hits)     # doctest: +SKIP
    """

    name = "embedding"

    def __init__(self, embedder: DocumentEmbedder, *, top_n: int = 50) -> None:
        self.embedder = embedder
        self.top_n = top_n

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        window = list(hits[: self.top_n])
        if not window:
            return []
        q = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        p = np.asarray(self.embedder.embed_documents([h.text for h in window]), dtype=np.float32)
        norms = np.linalg.norm(p, axis=1) * (np.linalg.norm(q) or 1.0)
        scores = (p @ q) / np.where(norms == 0, 1.0, norms)
        return _apply_scores(window, scores.tolist()) + list(hits[self.top_n:])


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a cross-encoder from a local path, on `backend`
    (`torch`, `onnx` or `onnx-int8`), reading at most `max_length` tokens per pair.

    Scores in batches of `batch_size` until `time_budget_s` is spent: hits scored in time are
    re-ordered, the rest follow in fused order. The order is by `blend` of the fused and the
    reranker's scores with `weight` (default: the model folder's recorded weight, else 1). If
    the model cannot be loaded, hits come back in fused order with a warning (rerank never
    breaks search).

    >>> CrossEncoderReranker("/models/ms-marco-MiniLM-L6-v2").rerank(q, hits)  # doctest: +SKIP
    """

    name = "cross-encoder"

    def __init__(self, model: str | Path | Any, *, top_n: int = 50, batch_size: int = 16,
                 time_budget_s: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 backend: str = "torch", max_length: int | None = None,
                 weight: float | None = None) -> None:
        self.model_ref = model
        self.backend = backend
        self.max_length = max_length
        self.top_n = top_n
        self.batch_size = batch_size
        self.time_budget_s = time_budget_s
        self.clock = clock
        self.warnings: list[str] = []
        self._model: Any = None if isinstance(model, str | Path) else model
        local = isinstance(model, str | Path)
        self.weight = weight if weight is not None else blend_weight(model) if local else 1.0

    def _load(self) -> Any:
        if self._model is None:
            from es_rag.embedding.onnx_model import OnnxBackendError

            try:
                self._model = load_cross_encoder(self.model_ref, self.backend, self.max_length)
            except OnnxBackendError as exc:  # the model still reranks, on torch
                self._warn(f"rerank backend {self.backend} unavailable ({exc}); using torch")
                self.backend = "torch"
                self._model = load_cross_encoder(self.model_ref, "torch", self.max_length)
        return self._model

    def _warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        self.warnings = []
        window = list(hits[: self.top_n])
        try:
            model = self._load()
        except Exception as exc:  # any load failure: keep the fused order, say why
            self._warn(f"cross-encoder {self.model_ref} unavailable ({exc}); "
                       "keeping the fused order")
            return list(hits)
        started = self.clock()
        scores: list[float] = []
        for start in range(0, len(window), self.batch_size):
            if scores and self.clock() - started > self.time_budget_s:
                self._warn(f"rerank time budget of {self.time_budget_s:g} s spent after "
                           f"{len(scores)} of {len(window)} hits; the rest keep fused order")
                break
            batch = window[start:start + self.batch_size]
            pairs = [(query, h.text) for h in batch]
            scores.extend(float(s) for s in model.predict(pairs, batch_size=self.batch_size))
        scores = blend([h.score for h in window[:len(scores)]], scores, self.weight)
        return _apply_scores(window, scores) + list(hits[self.top_n:])


def build_reranker(settings: RerankSettings, embedder: DocumentEmbedder | None) -> Reranker:
    """The reranker the settings name: a CrossEncoder when `model` is set, else embedding-based."""
    if settings.model:
        return CrossEncoderReranker(settings.model, top_n=settings.top_n,
                                    batch_size=settings.batch_size,
                                    time_budget_s=settings.time_budget_s,
                                    backend=settings.backend, max_length=settings.max_length)
    if embedder is None or not hasattr(embedder, "embed_documents"):
        raise ValueError("hybrid+rerank without a rerank model needs an embedder with "
                         "embed_documents (EmbeddingReranker)")
    return EmbeddingReranker(embedder, top_n=settings.top_n)
