"""What is measured of one answer: whether it refuses, and how much of it carries citations."""

from __future__ import annotations

from typing import Any

from es_rag.generate.citations import MARKER
from es_rag.generate.dont_know import is_dont_know
from es_rag.generate.sentences import content_words, split_sentences


def is_refusal(answer: Any) -> bool:
    """Whether the answer is "I don't know" (nothing relevant retrieved, or the model said so)."""
    return is_dont_know(answer.text)


def _claims(segment: str) -> int:
    return sum(1 for s in split_sentences(segment) if content_words(s))


def citation_coverage(answer: Any) -> float | None:
    """The share of the answer's sentences that a verified citation marker covers; None for a
    refusal or an answer without sentences.

    A marker covers the sentences since the previous marker on its line (so a quoted passage of
    two sentences followed by `[1]` counts as two covered sentences); a line ending with `:`
    (the extractive answer's preamble, a list's lead-in) is not a claim.
    """
    if is_refusal(answer):
        return None
    covered = total = 0
    for line in answer.text.splitlines():
        line = line.strip()
        if not line or line.endswith(":"):
            continue
        pos = 0
        for marker in MARKER.finditer(line):
            claims = _claims(line[pos:marker.start()])
            covered += claims
            total += claims
            pos = marker.end()
        total += _claims(line[pos:].lstrip(" .,;"))
    return covered / total if total else None
