"""An inference endpoint (`Endpoint`) and what every inference service implements
(`InferenceBackend`): parse its settings, show them, embed, rerank, chunk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..chunking import chunk
from ..errors import ActionRequestValidation, EngineError

TASK_TYPES = ("text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion")


def validation_error(errors: list[str]) -> EngineError:
    """Elasticsearch's `ValidationException` (400 `validation_exception`)."""
    listed = "".join(f"{i}: {message};" for i, message in enumerate(errors, start=1))
    return ActionRequestValidation(f"Validation Failed: {listed}",
                                   error_type="validation_exception")


def unsupported_task(service: str, task_type: str) -> EngineError:
    return EngineError(f"The [{service}] service does not support task type [{task_type}]",
                       status=400, error_type="status_exception")


@dataclass
class Endpoint:
    """One inference endpoint as stored (secrets included; never shown)."""

    inference_id: str
    task_type: str
    service: str
    service_settings: dict[str, Any]
    task_settings: dict[str, Any] = field(default_factory=dict)
    chunking_settings: dict[str, Any] | None = None
    secrets: dict[str, Any] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        return {"inference_id": self.inference_id, "task_type": self.task_type,
                "service": self.service, "service_settings": self.service_settings,
                "task_settings": self.task_settings,
                "chunking_settings": self.chunking_settings, "secrets": self.secrets}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Endpoint:
        return cls(state["inference_id"], state["task_type"], state["service"],
                   state["service_settings"], state.get("task_settings") or {},
                   state.get("chunking_settings"), state.get("secrets") or {})


class InferenceBackend:
    """A service endpoints name in `service`; the methods a task type needs are overridden."""

    name = ""
    task_types: tuple[str, ...] = ()

    def parse(self, inference_id: str, task_type: str, body: dict[str, Any]) -> Endpoint:
        """The endpoint a PUT body describes (400 on bad settings)."""
        raise NotImplementedError

    def shown_settings(self, endpoint: Endpoint) -> dict[str, Any]:
        """`service_settings` as GET shows them (secrets left out)."""
        return dict(endpoint.service_settings)

    def model_settings(self, endpoint: Endpoint) -> dict[str, Any]:
        """What a semantic_text field records of the model behind its endpoint."""
        return {"service": self.name, "task_type": endpoint.task_type}

    def embed(self, endpoint: Endpoint, texts: list[str], input_type: str) -> list[Any]:
        """Dense vectors (lists) or sparse weights (token → weight) of `texts`;
        `input_type` is `ingest` or `search`."""
        raise unsupported_task(self.name, endpoint.task_type)

    def embed_chunks(self, endpoint: Endpoint, text: str, offsets: list[tuple[int, int]]
                     ) -> list[Any]:
        """The embedding of each chunk of `text` (for semantic_text ingest)."""
        return self.embed(endpoint, [text[a:b] for a, b in offsets], "ingest")

    def embed_many(self, endpoint: Endpoint, items: list[tuple[str, list[tuple[int, int]]]]
                   ) -> list[list[Any]]:
        """The chunk embeddings of several texts (`(text, offsets)`), every chunk in one
        `embed` call (a model batch)."""
        flat = [text[a:b] for text, offsets in items for a, b in offsets]
        vectors = iter(self.embed(endpoint, flat, "ingest"))
        return [[next(vectors) for _ in offsets] for _, offsets in items]

    def chunks(self, endpoint: Endpoint, text: str, field_chunking: dict[str, Any] | None
               ) -> list[tuple[int, int]]:
        """Chunk offsets of a semantic_text value: the field's chunking settings, else the
        endpoint's."""
        return chunk(text, field_chunking or endpoint.chunking_settings)

    def rerank(self, endpoint: Endpoint, query: str, docs: list[str]) -> list[tuple[int, float]]:
        """(input index, relevance score) pairs, best first."""
        raise unsupported_task(self.name, endpoint.task_type)
