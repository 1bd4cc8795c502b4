"""Conversation: condense a follow-up question into a standalone question before retrieval.

With a language model (`openai`, `local`), the model rewrites the follow-up from the last turns
(prompt: `condense.j2` next to this module). With the extractive provider, a deterministic rule:
a follow-up that refers back (it, they, this, there…) or has fewer than three content words gets
the key terms of the previous user question appended, and user questions are condensed in turn,
so terms carry through a chain of follow-ups:

>>> condense_by_rule("Who designed it?", [Turn(role="user",
...                  content="When was the Eiffel Tower completed?")])
'Who designed it? Eiffel Tower completed'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import jinja2

from es_rag.generate import ChatModel, Generator
from es_rag.generate.sentences import STOPWORDS

from .schemas import Turn

REFERRING = frozenset({"it", "its", "they", "them", "their", "theirs", "this", "that", "these",
                       "those", "he", "him", "his", "she", "her", "hers", "there", "one",
                       "ones", "such", "same", "former", "latter"})
MIN_CONTENT_WORDS = 3
TURNS_SHOWN = 6
TURN_CHARS = 1000
# words that ask rather than say what the question is about
ASKING = frozenset({"does", "did", "do", "tell", "explain", "mean", "means", "meant", "please",
                    "know", "say", "says", "said"})
_WORD = re.compile(r"\w+(?:['’]\w+)?")
_PROMPT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent), undefined=jinja2.StrictUndefined,
    autoescape=False, trim_blocks=True, lstrip_blocks=True).get_template("condense.j2")


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text)
            if len(w) > 1 and w.lower() not in STOPWORDS and w.lower() not in ASKING]


def needs_context(question: str) -> bool:
    """True when the question refers back to the conversation or is too short to stand alone."""
    words = {w.lower() for w in _WORD.findall(question)}
    return bool(words & REFERRING) or len(_content_words(question)) < MIN_CONTENT_WORDS


def _with_terms_of(question: str, previous: str) -> str:
    if not needs_context(question):
        return question
    have = {w.lower() for w in _WORD.findall(question)}
    terms: list[str] = []
    for word in _content_words(previous):
        if word.lower() not in have:
            have.add(word.lower())
            terms.append(word)
    return f"{question} {' '.join(terms)}" if terms else question


def condense_by_rule(question: str, history: Sequence[Turn]) -> str:
    """The question with the key terms of the previous user question when it needs context."""
    previous: str | None = None
    for turn in history:
        if turn.role == "user" and turn.content.strip():
            previous = turn.content if previous is None else _with_terms_of(turn.content,
                                                                            previous)
    return question if previous is None else _with_terms_of(question, previous)


def condense_prompt(question: str, history: Sequence[Turn]) -> str:
    """The prompt asking a language model for the standalone question (last turns only)."""
    shown = [{"role": t.role, "content": t.content[:TURN_CHARS]}
             for t in history[-TURNS_SHOWN:]]
    return _PROMPT.render(history=shown, question=question).strip()


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().removeprefix("Standalone question:").strip().strip("\"'“”").strip()
        if line:
            return line
    return ""


def condense(question: str, history: Sequence[Turn], generator: Generator) -> str:
    """The standalone question for retrieval: by the generator's model, else by rule.

    Without history the question is returned unchanged. An empty or runaway model reply
    falls back to the rule.
    """
    if not any(t.role == "user" for t in history):
        return question
    if isinstance(generator, ChatModel):
        messages = [{"role": "user", "content": condense_prompt(question, history)}]
        standalone = _first_line(generator.complete(messages, max_tokens=96))
        if standalone and len(standalone) <= 4 * len(question) + 200:
            return standalone
    return condense_by_rule(question, history)
