"""The openai provider against a real OpenAI-compatible server: llama.cpp's Python server
(`llama_cpp.server`) serving SmolLM2-135M-Instruct on 127.0.0.1.

A 135M model is asked only for what it can do: answer something, stream it, and get citations
that es-rag verifies. No test checks the model's exact words.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from api.conftest import sse_events
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from retrieve.corpus import CORPUS, index_corpus, shared_embedder

from es_rag.api import create_api_app
from es_rag.api.condense import condense, condense_by_rule
from es_rag.api.schemas import Turn
from es_rag.cli import cli
from es_rag.config import Settings
from es_rag.connect import detect_capabilities
from es_rag.generate import (
    AskParams,
    ContextTooLongError,
    OpenAIGenerator,
    ProviderUnavailableError,
    ask,
    assemble_context,
)
from es_rag.observability.answer_log import REDACTED, recent_answers
from es_rag.retrieve import SearchParams
from generate.conftest import LlamaServer, assert_citations_verified

INDEX = "llama-server-chunks"
QUESTION = "When was the Eiffel Tower completed?"
PARAMS = AskParams(search=SearchParams(size=3))


@pytest.fixture(scope="module")
def cluster(engine: Any) -> Iterator[tuple[Elasticsearch, Any]]:
    """The session engine with the test corpus (real embeddings) in `llama-server-chunks`."""
    client = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(client, INDEX)
    yield client, detect_capabilities(client, "engine", client.info().body, embedded=True)
    client.options(ignore_status=404).indices.delete(index=INDEX)
    client.close()


@pytest.fixture(scope="module")
def generator(llama_server: LlamaServer) -> OpenAIGenerator:
    return OpenAIGenerator(model=llama_server.model, base_url=llama_server.base_url,
                           timeout=120, max_retries=1, max_tokens=48,
                           embedder=shared_embedder())


@pytest.fixture(autouse=True)
def one_fence_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each prompt draws a random fence code, and the small model's answer (with or without a
    citation) changes with it; one fixed code makes its temperature-0 answers repeatable."""
    monkeypatch.setattr("es_rag.generate.prompts.new_fence_code", lambda: "0123456789abcdef")


def test_ask_answers_and_every_citation_is_verified(cluster, generator) -> None:
    # whether the 135M model cites at all depends on the prompt's wording (the fenced prompt
    # made it cite less); tests/generate/test_local_provider.py holds one case that cites
    client, caps = cluster
    answer = ask(client, caps, INDEX, QUESTION, PARAMS, shared_embedder(), generator)
    assert answer.provider == "openai" and not answer.extractive
    assert answer.text.strip()
    assert "eiffel#0" in {s.chunk_id for s in answer.sources_used}
    assert_citations_verified(answer)
    assert {"retrieval_ms", "generation_ms", "total_ms"} <= set(answer.timings)


def test_the_api_streams_tokens_then_the_verified_citations(engine, cluster, generator) -> None:
    app = create_api_app(Settings(url=engine.url, index=INDEX), embedder=shared_embedder(),
                         generator=generator)
    response = app.test_client().post("/api/ask", json={"question": QUESTION, "size": 3,
                                                        "stream": True})
    assert response.status_code == 200
    events = sse_events(response.get_data(as_text=True))
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"token"}
    assert len(names) > 4, "the answer came in one piece, not streamed"
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed.strip()
    citations, done = events[-2][1]["citations"], events[-1][1]
    assert done["provider"] == "openai"
    texts = {chunk["chunk_id"]: chunk["text"] for chunk in CORPUS}
    assert all(c["quote"] in texts[c["chunk_id"]] for c in citations)
    assert "first_token_ms" in done["timings"]


@pytest.mark.parametrize("stream", [False, True])
def test_the_answer_log_keeps_the_prompt_the_model_was_sent(engine, cluster, generator,
                                                            tmp_path, stream: bool) -> None:
    settings = Settings(url=engine.url, index=INDEX, data=tmp_path, answer_log=True)
    app = create_api_app(settings, embedder=shared_embedder(), generator=generator)
    response = app.test_client().post("/api/ask", json={"question": QUESTION, "size": 3,
                                                        "stream": stream})
    assert response.status_code == 200 and response.get_data()  # a stream, read to its end
    [record] = recent_answers(settings)
    assert [m["role"] for m in record["prompt"]] == ["system", "user"]
    user = record["prompt"][1]["content"]
    assert "The Eiffel Tower in Paris was completed in 1889" in user  # a fenced source
    assert REDACTED in user and QUESTION not in json.dumps(record)
    assert record["provider"] == "openai"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_is_down_is_one_clear_line(engine, cluster) -> None:
    env = {"ES_RAG_INDEX": INDEX, "ES_RAG_LLM_PROVIDER": "openai",
           "ES_RAG_LLM_MODEL": "smollm2",
           "ES_RAG_LLM_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v1"}
    result = CliRunner().invoke(cli, ["--url", engine.url, "ask", QUESTION, "--size", "3"],
                                env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Error: cannot reach LLM endpoint http://127.0.0.1:" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_model_name_is_answered_by_the_servers_model(llama_server, hits) -> None:
    """llama_cpp.server does not reject a model name it does not serve: it answers with its
    default model and echoes the requested name, so es-rag cannot tell. (Servers that reject
    it, as OpenAI and vLLM do, give a ModelNotFoundError: test_openai_provider.py.)"""
    wrong = OpenAIGenerator(model="no-such-model", base_url=llama_server.base_url,
                            timeout=120, max_retries=0, max_tokens=16)
    served = [model.id for model in wrong.client.models.list()]
    assert served == [llama_server.model]
    response = wrong.client.chat.completions.create(
        model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "Hello"}])
    assert response.model == "no-such-model" and response.choices[0].message.content
    assert wrong.generate(QUESTION, assemble_context(hits)).text.strip()


def test_a_prompt_longer_than_the_context_is_a_clear_error(generator, too_long_context) -> None:
    with pytest.raises(ContextTooLongError, match="lower the context token budget"):
        generator.generate(QUESTION, too_long_context)
    # streaming, the server fails after its 200 and closes the stream without a finish_reason
    with pytest.raises(ProviderUnavailableError, match="closed the answer stream"):
        list(generator.stream(QUESTION, too_long_context))
    # it then resets the kept-alive connection; the client's retry makes the next request work
    assert generator.complete([{"role": "user", "content": "Hello"}], max_tokens=4)


def test_condense_asks_the_model_for_a_standalone_question(generator) -> None:
    history = [Turn(role="user", content=QUESTION), Turn(role="assistant", content="In 1889 [1].")]
    standalone = condense("Who designed it?", history, generator)
    assert standalone.strip() and "\n" not in standalone
    assert standalone != condense_by_rule("Who designed it?", history)
