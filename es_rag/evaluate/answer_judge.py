"""An LLM judge for answer evaluation: faithfulness and answer correctness, graded yes or no.

Configured with `judge_base_url` and `judge_model` (any OpenAI-compatible endpoint, temperature
0). Faithfulness asks whether every statement of an answer is supported by the sources the
generator was given; correctness whether the answer gives the golden answer (other words
allowed). Refusals are not graded for faithfulness, unanswerable questions or questions without
an expected answer text not for correctness, and a reply holding neither "yes" nor "no" is left
ungraded (counted in `ungraded`) rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from es_rag.config import Settings
from es_rag.generate import Answer, GenerationError, OpenAIGenerator, is_dont_know

SYSTEM = ("You grade the answers of a question-answering system. Reply with one word: yes or "
          "no.")
FAITHFUL = ("Sources:\n{sources}\n\nAnswer:\n{answer}\n\nIs every statement of the answer "
            "supported by the sources above? Reply yes or no.")
CORRECT = ("Question: {question}\nReference answer: {expected}\nAnswer to grade:\n{answer}\n\n"
           "Does the answer to grade give the reference answer (other words are fine)? Reply "
           "yes or no.")
_VERDICT = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
MAX_SOURCE_CHARS = 1500


class ChatCompleter(Protocol):
    """What the judge needs of a model: a reply to chat messages."""

    def complete(self, messages: Sequence[Mapping[str, str]], *,
                 max_tokens: int | None = None) -> str: ...


def verdict(reply: str) -> bool | None:
    """True for a reply that says yes first, False for no, None for neither."""
    found = _VERDICT.search(reply)
    return None if found is None else found.group(1).lower() == "yes"


class AnswerJudge:
    """Grades answers with a chat model; `model` names it in reports."""

    def __init__(self, chat: ChatCompleter, model: str) -> None:
        self.chat = chat
        self.model = model
        self.ungraded = 0

    def _ask(self, user: str) -> bool | None:
        reply = self.chat.complete([{"role": "system", "content": SYSTEM},
                                    {"role": "user", "content": user}], max_tokens=4)
        found = verdict(reply)
        if found is None:
            self.ungraded += 1
        return found

    def faithful(self, answer: Answer) -> bool | None:
        """Whether the sources support every statement of the answer (None: a refusal, or no
        verdict)."""
        if is_dont_know(answer.text) or not answer.sources_used:
            return None
        sources = "\n".join(f"[{s.n}] {s.text[:MAX_SOURCE_CHARS]}" for s in answer.sources_used)
        return self._ask(FAITHFUL.format(sources=sources, answer=answer.text))

    def correct(self, question: str, expected: Sequence[str], answer: Answer) -> bool | None:
        """Whether the answer gives one of the expected answer texts (None: nothing expected,
        or no verdict); a refusal is not correct."""
        if not expected:
            return None
        if is_dont_know(answer.text):
            return False
        return self._ask(CORRECT.format(question=question, expected=" / ".join(expected),
                                        answer=answer.text))


def build_judge(settings: Settings, **options: Any) -> AnswerJudge | None:
    """The judge the settings configure (`judge_model` and `judge_base_url`), else None.

    >>> judge = build_judge(load_settings())  # doctest: +SKIP
    """
    if not (settings.judge_model or settings.judge_base_url):
        return None
    if not (settings.judge_model and settings.judge_base_url):
        raise GenerationError("the judge needs both ES_RAG_JUDGE_BASE_URL (an OpenAI-compatible "
                              "endpoint) and ES_RAG_JUDGE_MODEL (a model name)")
    chat = OpenAIGenerator(model=settings.judge_model, base_url=settings.judge_base_url,
                           api_key=settings.judge_api_key, timeout=settings.request_timeout,
                           temperature=0.0, **options)
    return AnswerJudge(chat, settings.judge_model)
