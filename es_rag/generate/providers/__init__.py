"""Answer generators behind one interface, and `build_generator` to pick one from the settings."""

from __future__ import annotations

from es_rag.config import Settings
from es_rag.embedding.protocols import DocumentEmbedder
from es_rag.generate.providers.base import (
    ChatModel,
    ContextTooLongError,
    GenerationError,
    Generator,
    ModelNotFoundError,
    ProviderAuthError,
    ProviderUnavailableError,
)
from es_rag.generate.providers.extractive import ExtractiveGenerator
from es_rag.generate.providers.llama_cpp_local import LlamaCppGenerator
from es_rag.generate.providers.openai_compatible import OpenAIGenerator

PROVIDERS = ("extractive", "openai", "local")


def build_generator(settings: Settings, *, embedder: DocumentEmbedder | None = None,
                    prompt: str = "default") -> Generator:
    """The generator `settings.llm_provider` names (`extractive` when nothing is configured).

    >>> generator = build_generator(load_settings(), embedder=embedder)  # doctest: +SKIP
    """
    prompts_dir = settings.assets / "templates" / "prompts"
    provider = settings.llm_provider
    if provider == "extractive":
        return ExtractiveGenerator(embedder)
    if provider == "openai":
        if not settings.llm_model:
            raise GenerationError("llm_provider 'openai' needs ES_RAG_LLM_MODEL (a model name)")
        return OpenAIGenerator(model=settings.llm_model, base_url=settings.llm_base_url,
                               api_key=settings.llm_api_key, prompt=prompt,
                               prompts_dir=prompts_dir, timeout=settings.request_timeout,
                               embedder=embedder)
    if provider == "local":
        return LlamaCppGenerator(settings.llm_model, prompt=prompt, prompts_dir=prompts_dir,
                                 embedder=embedder)
    raise GenerationError(f"unknown llm_provider {provider!r} (accepted: {', '.join(PROVIDERS)})")


__all__ = [
    "PROVIDERS", "ChatModel", "ContextTooLongError", "ExtractiveGenerator", "GenerationError",
    "Generator", "LlamaCppGenerator", "ModelNotFoundError", "OpenAIGenerator",
    "ProviderAuthError", "ProviderUnavailableError", "build_generator",
]
