"""The interface every answer generator implements, and the errors providers raise."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from es_rag.errors import EsRagError
from es_rag.generate.citations import Answer
from es_rag.generate.context import Context


class GenerationError(EsRagError, RuntimeError):
    """The answer could not be generated; the message says why and what to do."""


class ProviderAuthError(GenerationError):
    """The LLM endpoint refused the API key (401/403)."""


class ModelNotFoundError(GenerationError):
    """The LLM endpoint does not serve the configured model."""


class ContextTooLongError(GenerationError):
    """Prompt plus answer exceed the model's context window: lower the token budget."""


class ProviderUnavailableError(GenerationError):
    """The LLM endpoint cannot be reached, timed out, or kept failing after retries."""


class Generator(Protocol):
    """Answers a question from numbered sources.

    `stream` yields text deltas; `finish` turns the complete text into a verified `Answer`
    (so `generate(q, c)` equals `finish("".join(stream(q, c)), c)` for a deterministic model).
    """

    name: str
    extractive: bool

    def generate(self, question: str, context: Context) -> Answer: ...

    def stream(self, question: str, context: Context) -> Iterator[str]: ...

    def finish(self, text: str, context: Context) -> Answer: ...


@runtime_checkable
class ChatModel(Protocol):
    """A generator backed by a chat model, which also answers arbitrary chat messages.

    The extractive generator has no model and is not a `ChatModel`.
    """

    def complete(self, messages: Sequence[Mapping[str, str]], *,
                 max_tokens: int | None = None) -> str:
        """The model's reply (temperature as configured) to OpenAI-style chat `messages`."""
        ...
