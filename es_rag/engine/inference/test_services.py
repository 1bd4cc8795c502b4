"""The deterministic inference services of Elasticsearch's test plugin, as its YAML tests use them:
`test_service` (sparse embeddings from the input's Java hash code), `text_embedding_test_service`
(dense embeddings from the digits of that hash code) and `test_reranking_service` (each input
parsed as its own relevance score)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from ..chunking import chunk
from .service_base import Endpoint, InferenceBackend, validation_error

_rng = random.Random()


def java_hash(text: str) -> int:
    """`String.hashCode()`: 31-based over UTF-16 code units, 32-bit signed."""
    value = 0
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        value = (31 * value + (data[i] | data[i + 1] << 8)) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def float32(value: float) -> float:
    """A float32 value as the shortest decimal Java prints for it."""
    return float(str(np.float32(value)))


def _pop_required(settings: dict[str, Any], key: str, errors: list[str], message: str) -> Any:
    value = settings.pop(key, None)
    if value is None:
        errors.append(message)
    return value


def _task_settings(body: dict[str, Any]) -> dict[str, Any]:
    settings = dict(body.get("task_settings") or {})
    return {"temperature": settings["temperature"]} if "temperature" in settings else {}


def _secrets(settings: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    api_key = _pop_required(settings, "api_key", errors, "missing api_key")
    return {"api_key": api_key}


class _TestService(InferenceBackend):
    """What the three test services share: required api_key, task settings, word chunking of
    a semantic_text field's own chunking settings only."""

    def parse(self, inference_id: str, task_type: str, body: dict[str, Any]) -> Endpoint:
        settings = dict(body.get("service_settings") or {})
        errors: list[str] = []
        public = self.parse_settings(settings, errors)
        secrets = _secrets(settings, errors)
        if errors:
            raise validation_error(errors)
        return Endpoint(inference_id, task_type, self.name, public, _task_settings(body),
                        None, secrets)

    def parse_settings(self, settings: dict[str, Any], errors: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def chunks(self, endpoint: Endpoint, text: str, field_chunking: dict[str, Any] | None
               ) -> list[tuple[int, int]]:
        if field_chunking and field_chunking["strategy"] not in ("word", "none"):
            raise validation_error(["Test inference service only supports word chunking "
                                    "strategies"])
        return chunk(text, field_chunking)


class SparseTestService(_TestService):
    name = "test_service"
    task_types = ("sparse_embedding",)

    def parse_settings(self, settings: dict[str, Any], errors: list[str]) -> dict[str, Any]:
        model = _pop_required(settings, "model", errors, "missing model")
        out: dict[str, Any] = {"model": model}
        hidden = settings.pop("hidden_field", None)
        if hidden is not None:
            out["hidden_field"] = hidden
        out["should_return_hidden_field"] = bool(settings.pop("should_return_hidden_field",
                                                              False))
        return out

    def shown_settings(self, endpoint: Endpoint) -> dict[str, Any]:
        settings = endpoint.service_settings
        out = {"model": settings["model"]}
        if settings.get("should_return_hidden_field") and "hidden_field" in settings:
            out["hidden_field"] = settings["hidden_field"]
        return out

    def embed(self, endpoint: Endpoint, texts: list[str], input_type: str) -> list[Any]:
        return [self.sparse(text) for text in texts]

    def embed_chunks(self, endpoint: Endpoint, text: str, offsets: list[tuple[int, int]]
                     ) -> list[Any]:
        # as the plugin does: every chunk carries the weights of the whole input
        return [self.sparse(text) for _ in offsets]

    def embed_many(self, endpoint: Endpoint, items: list[tuple[str, list[tuple[int, int]]]]
                   ) -> list[list[Any]]:
        return [self.embed_chunks(endpoint, text, offsets) for text, offsets in items]

    @staticmethod
    def sparse(text: str) -> dict[str, float]:
        base = java_hash(text)
        base = _int32(-base) if base < 0 else base
        return {f"feature_{i}": float32(_int32(base + 1 + i)) for i in range(5)}


class DenseTestService(_TestService):
    name = "text_embedding_test_service"
    task_types = ("text_embedding",)

    def parse_settings(self, settings: dict[str, Any], errors: list[str]) -> dict[str, Any]:
        model = _pop_required(settings, "model", errors, "missing model")
        dims = _pop_required(settings, "dimensions", errors, "missing dimensions")
        out: dict[str, Any] = {"model": model, "dimensions": dims}
        similarity = settings.pop("similarity", None)
        if similarity is not None:
            out["similarity"] = str(similarity).lower()
        element_type = settings.pop("element_type", None)
        if element_type is not None:
            out["element_type"] = str(element_type).lower()
        return out

    def model_settings(self, endpoint: Endpoint) -> dict[str, Any]:
        settings = endpoint.service_settings
        return {"service": self.name, "task_type": "text_embedding",
                "dimensions": settings["dimensions"],
                "similarity": settings.get("similarity", "cosine"),
                "element_type": settings.get("element_type", "float")}

    def embed(self, endpoint: Endpoint, texts: list[str], input_type: str) -> list[Any]:
        settings = endpoint.service_settings
        length = settings["dimensions"]
        if settings.get("element_type") == "bit":
            length //= 8
        return [self.dense(text, length) for text in texts]

    @staticmethod
    def dense(text: str, length: int) -> list[float]:
        digits = [float(b) for b in str(java_hash(text)).encode()]
        return (digits * (length // len(digits) + 1))[:length]


class RerankTestService(_TestService):
    name = "test_reranking_service"
    task_types = ("rerank",)

    def parse_settings(self, settings: dict[str, Any], errors: list[str]) -> dict[str, Any]:
        return {"model_id": _pop_required(settings, "model_id", errors, "missing model")}

    def rerank(self, endpoint: Endpoint, query: str, docs: list[str]) -> list[tuple[int, float]]:
        try:
            scores = [_java_float(doc) for doc in docs]
        except ValueError:
            low = _rng.uniform(-1.0, 1.0)
            count = len(docs)
            return [(count - 1 - i, float32(low + 0.2 * (count - i))) for i in range(count)]
        return sorted(enumerate(scores), key=lambda item: (item[1], item[0]), reverse=True)


def _java_float(text: str) -> float:
    """`Float.parseFloat`: surrounding whitespace and a trailing f/d suffix allowed."""
    value = text.strip()
    if value[-1:] in ("f", "F", "d", "D") and not value.lower().endswith("inity"):
        value = value[:-1]
    if not value or "_" in value:
        raise ValueError(text)
    return float32(float(value))


TEST_SERVICES = (SparseTestService(), DenseTestService(), RerankTestService())
