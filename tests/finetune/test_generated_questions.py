"""Questions a chat model writes for `--unsupervised` fine-tuning: what is kept of a reply, a
batch that goes on past failures, and the round-trip filter that drops questions current
retrieval cannot answer with their own passage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from es_rag.finetune.data import TrainingData, TrainingQuery
from es_rag.finetune.generated_questions import (
    clean_question,
    generate_questions,
    round_trip_filtered,
    with_generated,
)
from es_rag.generate import GenerationError

PASSAGES = {
    "d1": "Vitamin D deficiency lowers bone mineral density in older adults.",
    "d2": "Statins reduce LDL cholesterol and the risk of heart attacks.",
    "d3": "Sleep deprivation impairs working memory in students.",
}


class ScriptedChat:
    """A chat model replying from a script; an exception in the script is raised."""

    def __init__(self, replies: Sequence[str | Exception]) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def complete(self, messages: Sequence[Mapping[str, str]], *,
                 max_tokens: int | None = None) -> str:
        self.prompts.append(messages[-1]["content"])
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


@pytest.mark.parametrize(("reply", "question"), [
    ("Does vitamin D affect bone density?", "Does vitamin D affect bone density?"),
    ("Question: How do statins lower cholesterol?", "How do statins lower cholesterol?"),
    ('Sure!\n"What does sleep loss do to memory?"', "What does sleep loss do to memory?"),
    ("1. Which patients benefit from statins?\n2. Why?", "Which patients benefit from statins?"),
    ("The passage describes vitamin D.", None),
    ("Why?", None),
    ("", None),
])
def test_a_reply_yields_its_first_real_question(reply: str, question: str | None) -> None:
    assert clean_question(reply) == question


def test_every_drawn_passage_is_asked_once_and_failures_do_not_stop_the_batch() -> None:
    chat = ScriptedChat(["What lowers LDL cholesterol?", GenerationError("model unavailable"),
                         "No question here."])
    found = generate_questions(PASSAGES, chat, count=3)
    assert len(chat.prompts) == 3
    assert all(any(text in prompt for text in PASSAGES.values()) for prompt in chat.prompts)
    assert [q.text for q in found.queries] == ["What lowers LDL cholesterol?"]
    written = found.queries[0]
    assert written.qid == f"{written.positives[0]}:generated"
    assert written.positive_texts == (PASSAGES[written.positives[0]],)
    assert sorted(found.refused.values())[0] == "model unavailable"
    assert "no usable question" in sorted(found.refused.values())[1]


def test_the_passages_drawn_depend_on_the_seed_only() -> None:
    first = generate_questions(PASSAGES, ScriptedChat(["What is it?"] * 2), count=2, seed=5)
    again = generate_questions(PASSAGES, ScriptedChat(["What is it?"] * 2), count=2, seed=5)
    assert [q.qid for q in first.queries] == [q.qid for q in again.queries]


def _data() -> TrainingData:
    title = TrainingQuery("d3:title0", "Sleep and memory", ("d3",), (PASSAGES["d3"],))
    return TrainingData("unsupervised:corpus", [title], dict(PASSAGES), "f0")


def test_generated_questions_join_the_pseudo_queries_and_change_the_fingerprint() -> None:
    found = generate_questions(PASSAGES, ScriptedChat(["What does vitamin D do?"]), count=1)
    data = with_generated(_data(), found, "smollm2")
    assert data.source == "unsupervised:corpus+generated:smollm2"
    assert [q.qid for q in data.queries][0] == "d3:title0" and len(data.queries) == 2
    assert data.fingerprint != "f0"
    other = with_generated(_data(), generate_questions(
        PASSAGES, ScriptedChat(["Who takes vitamin D?"]), count=1), "smollm2")
    assert other.fingerprint != data.fingerprint


def test_round_trip_keeps_only_questions_that_retrieve_their_own_passage() -> None:
    found = generate_questions(PASSAGES, ScriptedChat(["What is asked?"] * 3), count=3)
    data = with_generated(_data(), found, "m")
    pools = {q.qid: ["d9", *q.positives] for q in data.queries}
    lost = next(q for q in data.queries if q.qid.endswith(":generated"))
    pools[lost.qid] = ["d8", "d9"]
    pools["d3:title0"] = []  # pseudo-queries that are not generated are never filtered
    kept, dropped = round_trip_filtered(data, pools)
    assert dropped == 1
    assert lost.qid not in {q.qid for q in kept.queries}
    assert {q.qid for q in kept.queries} == {q.qid for q in data.queries} - {lost.qid}
    assert any(lost.qid in why for why in kept.skipped)
    deep = {**pools, lost.qid: ["d8"] * 10 + list(lost.positives)}
    assert round_trip_filtered(data, deep)[1] == 1  # found, but below the first 10
    assert round_trip_filtered(data, deep, depth=11)[1] == 0
