"""The inference service of the request being served, for the query clauses and retrievers that
embed or rerank while a search runs (`semantic`, `match`/`knn`/`sparse_vector` on semantic_text,
`text_similarity_reranker`); results are kept for the rest of the request, as Elasticsearch
runs each query's inference once before the shards search."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest

if TYPE_CHECKING:
    from .service import InferenceService


class RequestInference:
    """Inference calls of one request, each made once."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service
        self._embeddings: dict[tuple[str, str], tuple[str, Any]] = {}

    def embed(self, inference_id: str, text: str) -> tuple[str, Any]:
        """(task type, embedding) of a query text through an endpoint."""
        key = (inference_id, text)
        if key not in self._embeddings:
            self._embeddings[key] = self.service.query_embedding(inference_id, text)
        return self._embeddings[key]

    def rerank(self, inference_id: str, query: str, docs: list[str]) -> list[tuple[int, float]]:
        return self.service.rerank(inference_id, query, docs)


_current: ContextVar[RequestInference | None] = ContextVar("request_inference", default=None)


@contextmanager
def serving(service: InferenceService) -> Iterator[None]:
    """Make `service` the inference of the request served in this block."""
    token = _current.set(RequestInference(service))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> RequestInference:
    found = _current.get()
    if found is None:
        raise BadRequest("inference is not available for this request")
    return found
