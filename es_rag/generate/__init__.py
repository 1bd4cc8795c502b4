"""Generation: context assembly, Jinja2 prompts, LLM providers, verified citations, `ask`.

>>> from es_rag.generate import ask, build_generator
>>> answer = ask(client, caps, settings.index, "What is RRF?", embedder=embedder,
...              generator=build_generator(settings, embedder=embedder))  # doctest: +SKIP
"""

from es_rag.generate.ask import AskParams, ask, ask_stream, reaches_relevance
from es_rag.generate.citations import Answer, Citation, build_answer
from es_rag.generate.context import Context, Source, assemble_context, token_counter
from es_rag.generate.dont_know import is_dont_know, says_no_answer
from es_rag.generate.prompts import (
    DONT_KNOW,
    Prompt,
    PromptError,
    available_prompts,
    render_prompt,
)
from es_rag.generate.providers import (
    ChatModel,
    ContextTooLongError,
    ExtractiveGenerator,
    GenerationError,
    Generator,
    LlamaCppGenerator,
    ModelNotFoundError,
    OpenAIGenerator,
    ProviderAuthError,
    ProviderUnavailableError,
    build_generator,
)

__all__ = [
    "DONT_KNOW", "Answer", "AskParams", "ChatModel", "Citation", "Context",
    "ContextTooLongError", "ExtractiveGenerator", "GenerationError", "Generator",
    "LlamaCppGenerator", "ModelNotFoundError", "OpenAIGenerator", "Prompt", "PromptError",
    "ProviderAuthError", "ProviderUnavailableError", "Source", "ask", "ask_stream",
    "assemble_context", "available_prompts", "build_answer", "build_generator", "is_dont_know",
    "reaches_relevance", "render_prompt", "says_no_answer", "token_counter",
]
