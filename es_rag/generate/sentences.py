"""Sentences and content words: the lexical side of extractive answers and citation checks."""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n")
_ITEM_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|\||>\s?)")
_ONE_LINE_BLOCK = re.compile(r"^\s*(?:#{1,6}\s|\|)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = ENGLISH_STOP_WORDS  # scikit-learn ships with sentence-transformers


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each an exact substring of it (whitespace-trimmed)."""
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[start:m.start() + len(m.group(0).rstrip())].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _blocks(text: str) -> list[str]:
    """Paragraphs, list items, headings and table rows of `text` (exact substrings of it)."""
    blocks: list[str] = []
    start: int | None = None
    single = False
    pos = 0
    for line in text.splitlines(keepends=True):
        starts_item = bool(_ITEM_START.match(line))
        if start is not None and (not line.strip() or starts_item or single):
            blocks.append(text[start:pos])
            start = None
        if line.strip() and start is None:
            start, single = pos, bool(_ONE_LINE_BLOCK.match(line))
        pos += len(line)
    if start is not None:
        blocks.append(text[start:])
    return blocks


def split_passage(text: str) -> list[str]:
    """The sentences of a passage, with list items, headings and table rows apart (Markdown
    and text extracted from documents), each an exact substring of `text`.

    >>> split_passage("## Setup\n- Install it. Then run it.\n- Stop it.")
    ['## Setup', '- Install it.', 'Then run it.', '- Stop it.']
    """
    return [sentence for block in _blocks(text) for sentence in split_sentences(block)]


def content_words(text: str) -> set[str]:
    """Lower-cased words of `text` minus stopwords, with a light suffix folding: possessives,
    plurals, -ing and -ed go, and so does a final e ("nickname" and "nicknamed" meet)."""
    words = set()
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        word = word.removesuffix("'s")
        if word in STOPWORDS or len(word) < 2:
            continue
        for suffix in ("ing", "es", "s", "ed"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        if len(word) > 4 and word.endswith("e"):
            word = word[:-1]
        words.add(word)
    return words


def overlap(claim: set[str], evidence: set[str]) -> float:
    """Share of the claim's content words found in the evidence (0 when the claim has none)."""
    return len(claim & evidence) / len(claim) if claim else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    """Token-set similarity of two texts' word sets."""
    return len(a & b) / len(a | b) if a or b else 1.0
