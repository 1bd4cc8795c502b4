"""With an OpenAI-compatible judge configured, answer evaluation also grades faithfulness and
answer correctness: against the real llama.cpp server the tests use (SmolLM2-135M, so no test
checks its verdicts, only that each answer was graded or counted ungraded), and the judge's
rules with a scripted chat model."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from retrieve.corpus import index_corpus, shared_embedder

from es_rag.config import Settings
from es_rag.connect import detect_capabilities
from es_rag.evaluate.answer_judge import AnswerJudge, build_judge, verdict
from es_rag.evaluate.answers import GoldenQuestion, run_answer_evaluation
from es_rag.generate import Answer, ExtractiveGenerator, GenerationError
from es_rag.generate.context import Source
from generate.conftest import LlamaServer

INDEX = "judge-chunks"
GOLDEN = [
    GoldenQuestion(id="eiffel", question="When was the Eiffel Tower completed?",
                   answers=("1889",)),
    GoldenQuestion(id="rrf", question="What does reciprocal rank fusion merge?",
                   answers=("BM25 ranking and the vector ranking",)),
    GoldenQuestion(id="mercury", question="What is the boiling point of mercury?",
                   unanswerable=True),
]


@pytest.fixture(scope="module")
def cluster(engine: Any) -> Iterator[tuple[Elasticsearch, Any]]:
    client = Elasticsearch(engine.url, request_timeout=30)
    index_corpus(client, INDEX)
    yield client, detect_capabilities(client, "engine", client.info().body, embedded=True)
    client.options(ignore_status=404).indices.delete(index=INDEX)
    client.close()


def test_the_llama_server_judge_grades_every_answer(cluster, llama_server: LlamaServer) -> None:
    client, caps = cluster
    judge = build_judge(Settings(judge_base_url=llama_server.base_url,
                                 judge_model=llama_server.model, request_timeout=120))
    assert judge is not None
    report = run_answer_evaluation(client, caps, INDEX, GOLDEN, embedder=shared_embedder(),
                                   generator=ExtractiveGenerator(shared_embedder()),
                                   judge=judge)
    by_id = {r.id: r for r in report.results}
    graded = [r.faithful for r in report.results if not r.refused]
    graded += [by_id[q].judged_correct for q in ("eiffel", "rrf")]
    assert len(graded) == 4  # two answered questions, each graded twice
    assert sum(g is not None for g in graded) + judge.ungraded == 4
    assert by_id["mercury"].faithful is None and by_id["mercury"].judged_correct is None
    summary = report.summary()
    assert summary["judge"] == llama_server.model
    if judge.ungraded < 4:
        metrics = summary["configs"]["extractive"]
        assert {"judge_faithfulness", "judge_correctness"} & set(metrics)
        assert all(0.0 <= v <= 1.0 for k, v in metrics.items() if k.startswith("judge_"))
    json.loads(report.to_json())  # the per-question verdicts are in the JSON report


class ScriptedChat:
    """Replies with the next scripted text and keeps the messages it was sent."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.sent: list[Sequence[Mapping[str, str]]] = []

    def complete(self, messages: Sequence[Mapping[str, str]], *,
                 max_tokens: int | None = None) -> str:
        self.sent.append(messages)
        return self.replies.pop(0)


def _answer(text: str) -> Answer:
    source = Source(n=1, chunk_id="eiffel#0", doc_id="eiffel", source="blog/paris.html",
                    title="Paris", page=4, offsets=None, score=1.0, tokens=12,
                    text="The Eiffel Tower in Paris was completed in 1889.")
    return Answer(text=text, citations=[], provider="extractive", extractive=True,
                  sources_used=[source])


def test_the_judge_sees_the_sources_and_the_expected_answer() -> None:
    chat = ScriptedChat("Yes.", "no, it does not")
    judge = AnswerJudge(chat, "scripted")
    answer = _answer('"The Eiffel Tower in Paris was completed in 1889." [1]')
    assert judge.faithful(answer) is True
    assert "[1] The Eiffel Tower in Paris was completed in 1889." in chat.sent[0][1]["content"]
    assert judge.correct("When?", ("1890",), answer) is False
    assert "Reference answer: 1890" in chat.sent[1][1]["content"]


def test_refusals_are_not_graded_and_a_reply_without_a_verdict_is_counted() -> None:
    chat = ScriptedChat("I cannot tell")
    judge = AnswerJudge(chat, "scripted")
    refusal = _answer("I don't know: the sources do not contain the answer to this question.")
    assert judge.faithful(refusal) is None
    assert judge.correct("When?", ("1889",), refusal) is False  # refusing is not answering
    assert judge.correct("When?", (), refusal) is None
    assert chat.sent == []
    assert judge.faithful(_answer("It opened in 1889 [1]")) is None and judge.ungraded == 1
    assert [verdict(r) for r in ("Yes", "NO.", "maybe yes", "nope")] == [True, False, True, None]


def test_a_half_configured_judge_is_a_clear_error() -> None:
    assert build_judge(Settings()) is None
    with pytest.raises(GenerationError, match="needs both ES_RAG_JUDGE_BASE_URL"):
        build_judge(Settings(judge_model="qwen2.5"))
