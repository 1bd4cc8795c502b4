"""Answers from any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from es_rag.embedding.cache import through_memo
from es_rag.embedding.protocols import DocumentEmbedder
from es_rag.generate.citations import Answer, build_answer
from es_rag.generate.context import Context
from es_rag.generate.prompts import PROMPTS_DIR, render_prompt
from es_rag.generate.providers.base import (
    ContextTooLongError,
    GenerationError,
    ModelNotFoundError,
    ProviderAuthError,
    ProviderUnavailableError,
)
from es_rag.observability.tracing import record_chat_response

_CONTEXT_HINTS = ("context_length_exceeded", "context length", "maximum context",
                  "context window", "too many tokens", "exceeds the context")


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    if isinstance(error, dict):
        return " ".join(str(error.get(k) or "") for k in ("code", "type", "message")).strip()
    return str(exc.message)


class OpenAIGenerator:
    """Chat completions from an OpenAI-compatible endpoint, with the prompt rendered by name.

    Retries (connection errors, 408, 409, 429 and 5xx) use the `openai` client's exponential
    backoff with jitter, honouring `Retry-After`; errors become `GenerationError` subclasses that
    say what to fix.

    >>> gen = OpenAIGenerator(model="qwen2.5",
    ...                       base_url="http://127.0.0.1:8080/v1")  # doctest: +SKIP
    >>> gen.generate("What is RRF?", context).text                  # doctest: +SKIP
    """

    name = "openai"
    extractive = False

    def __init__(self, *, model: str, base_url: str | None = None, api_key: str | None = None,
                 prompt: str = "default", prompts_dir: Path = PROMPTS_DIR,
                 timeout: float = 60.0, max_retries: int = 3, temperature: float = 0.0,
                 max_tokens: int = 512, embedder: DocumentEmbedder | None = None,
                 client: openai.OpenAI | None = None) -> None:
        if not model:
            raise GenerationError("the openai provider needs a model name (ES_RAG_LLM_MODEL)")
        self.model = model
        self.base_url = base_url or "https://api.openai.com/v1"
        self.prompt = prompt
        self.prompts_dir = prompts_dir
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.embedder = embedder
        # local servers (llama.cpp, vLLM, Ollama) accept any key; the client insists on one
        key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        self.client = client or openai.OpenAI(base_url=self.base_url, api_key=key,
                                              timeout=timeout, max_retries=max_retries)

    def _request(self, messages: Sequence[Mapping[str, str]], max_tokens: int | None = None,
                 **extra: Any) -> Any:
        return self.client.chat.completions.create(
            model=self.model, messages=list(messages),  # type: ignore[arg-type]
            temperature=self.temperature, max_tokens=max_tokens or self.max_tokens, **extra)

    def _messages(self, question: str, context: Context) -> list[dict[str, str]]:
        context.prompt = render_prompt(self.prompt, question, context,
                                       prompts_dir=self.prompts_dir).messages()
        return context.prompt

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        where = f"LLM endpoint {self.base_url}"
        try:
            yield
        except openai.AuthenticationError as exc:
            raise ProviderAuthError(f"{where} refused the API key (401): check "
                                    f"ES_RAG_LLM_API_KEY ({_error_text(exc)})") from None
        except openai.PermissionDeniedError as exc:
            raise ProviderAuthError(f"{where} denied access (403): {_error_text(exc)}") from None
        except openai.NotFoundError as exc:
            raise ModelNotFoundError(f"{where} does not serve model {self.model!r} (404): check "
                                     f"ES_RAG_LLM_MODEL ({_error_text(exc)})") from None
        except openai.BadRequestError as exc:
            text = _error_text(exc)
            if "model_not_found" in text:  # llama.cpp's server answers 400, not 404
                raise ModelNotFoundError(f"{where} does not serve model {self.model!r} (400): "
                                         f"check ES_RAG_LLM_MODEL ({text})") from None
            if any(hint in text.lower() for hint in _CONTEXT_HINTS):
                raise ContextTooLongError(f"the prompt is too long for model {self.model!r}: "
                                          f"lower the context token budget ({text})") from None
            raise GenerationError(f"{where} rejected the request (400): {text}") from None
        except openai.APITimeoutError:
            raise ProviderUnavailableError(f"{where} did not answer in time") from None
        except openai.APIConnectionError as exc:
            raise ProviderUnavailableError(f"cannot reach {where}: {exc}") from None
        except openai.APIStatusError as exc:
            raise ProviderUnavailableError(f"{where} failed ({exc.status_code}) after retries: "
                                           f"{_error_text(exc)}") from None

    def complete(self, messages: Sequence[Mapping[str, str]], *,
                 max_tokens: int | None = None) -> str:
        """The model's reply to chat `messages` (at most `max_tokens`, default the generator's).

        >>> gen.complete([{"role": "user", "content": "Say hello."}])  # doctest: +SKIP
        'Hello!'
        """
        with self._mapped_errors():
            response = self._request(messages, max_tokens)
        record_chat_response(response)
        return (response.choices[0].message.content or "") if response.choices else ""

    def generate(self, question: str, context: Context) -> Answer:
        return self.finish(self.complete(self._messages(question, context)), context)

    def stream(self, question: str, context: Context) -> Iterator[str]:
        """The answer's text deltas as the endpoint sends them.

        A stream that ends without a `finish_reason` is an error, not a short answer: servers
        that fail after the response has started (llama.cpp's Python server does so for a
        prompt longer than the model's context) just close the stream.
        """
        finished = False
        with self._mapped_errors():
            for chunk in self._request(self._messages(question, context), stream=True):
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
                finished = finished or choice.finish_reason is not None
        if not finished:
            raise ProviderUnavailableError(
                f"LLM endpoint {self.base_url} closed the answer stream before the model "
                f"finished: the server failed mid-answer (its log says why; a prompt longer "
                f"than the model's context is one cause: lower the context token budget)")

    def finish(self, text: str, context: Context) -> Answer:
        return build_answer(text, context, provider=self.name,
                            embedder=through_memo(self.embedder, context.embedder))
