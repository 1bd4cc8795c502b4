"""Verifiable citations: check every [n] of an answer against the numbered sources.

A marker naming no provided source, or a source that does not support the sentence citing it
(lexically, or by embedding similarity when an embedder is given), is removed and reported.
Each kept citation carries a quote that is an exact substring of the cited chunk's text. When
the answer cites nothing, sentences are attributed to the source that clearly supports them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from es_rag.embedding.protocols import DocumentEmbedder
from es_rag.generate.context import Context, Source
from es_rag.generate.dont_know import is_dont_know, says_no_answer
from es_rag.generate.injection import InstructionLike, find_instruction_like
from es_rag.generate.prompts import DONT_KNOW
from es_rag.generate.sentences import content_words, overlap, split_passage, split_sentences

MARKER = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\]")
_END_PUNCT = re.compile(r"[.!?]+[\"')\]]*$")
_QUOTE = re.compile(r'"[^"\n]+"|\u201c[^\u201d\n]+\u201d')


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _quoted_source_spans(text: str, context: Context) -> list[tuple[int, int]]:
    """Spans of `text` quoting a source verbatim: bracket numbers inside them (a document's own
    footnotes, such as Wikipedia's [22]) belong to the source and are not citations."""
    sources = [_spaced(s.text) for s in context.sources]
    return [(m.start(), m.end()) for m in _QUOTE.finditer(text)
            if any(_spaced(m.group(0)[1:-1]) in src for src in sources)]


@dataclass
class Citation:
    """One cited source: where it comes from and the quote of it that supports the answer."""

    n: int
    chunk_id: str
    doc_id: str | None
    source: str | None
    title: str | None
    page: int | None
    offsets: dict[str, int] | None
    quote: str
    highlight: dict[str, Any] | None = None
    """Where the quote is in the document, when the passage is a whole field:
    `{"field": name, "start": i, "end": j}` (character offsets in that field's text)."""


@dataclass
class Answer:
    """A generated answer with verified citations.

    `removed_citations` explains every [n] taken out; `unsupported_sentences` lists sentences no
    source supports; `sources_used` are the numbered sources the generator was given;
    `instruction_like` are the sentences of those sources that read as instructions to the model
    (a possible prompt injection: never quoted by the extractive answerer, flagged for all).
    """

    text: str
    citations: list[Citation]
    provider: str
    extractive: bool
    sources_used: list[Source] = field(default_factory=list)
    removed_citations: list[str] = field(default_factory=list)
    unsupported_sentences: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    """The search behind the answer: its path and `parameters` (values, origin, overrides)."""
    instruction_like: list[InstructionLike] = field(default_factory=list)
    prompt: list[dict[str, str]] = field(default_factory=list)
    """The chat messages the model was sent (empty for the extractive answerer)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `es-rag ask --json` and `POST /api/ask`."""
        return {
            "answer": self.text,
            "citations": [asdict(c) for c in self.citations],
            "provider": self.provider,
            "extractive": self.extractive,
            "removed_citations": self.removed_citations,
            "unsupported_sentences": self.unsupported_sentences,
            "sources": [s.as_dict() for s in self.sources_used],
            "instruction_like": [f.as_dict() for f in self.instruction_like],
            "timings": self.timings,
            "retrieval": self.retrieval,
        }


def best_quote(claim: str, source: Source) -> str:
    """The sentence of the source that shares most content words with the claim (verbatim)."""
    sentences = split_passage(source.text) or [source.text]
    words = content_words(claim)
    return max(sentences, key=lambda s: len(words & content_words(s)))


def _cosine(embedder: DocumentEmbedder, a: str, b: str) -> float:
    va, vb = (np.asarray(v, dtype=np.float32) for v in embedder.embed_documents([a, b]))
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb)) or 1.0
    return float(va @ vb) / denom


def _citation(n: int, source: Source, claim: str) -> Citation:
    quote = best_quote(claim, source)
    start = source.text.find(quote) if source.field else -1
    highlight = ({"field": source.field, "start": start, "end": start + len(quote)}
                 if start >= 0 else None)
    return Citation(n=n, chunk_id=source.chunk_id, doc_id=source.doc_id, source=source.source,
                    title=source.title, page=source.page, offsets=source.offsets,
                    quote=quote, highlight=highlight)


class _Verifier:
    def __init__(self, context: Context, embedder: DocumentEmbedder | None,
                 min_support: float, min_cosine: float) -> None:
        self.sources = context.by_number()
        self.embedder = embedder
        self.min_support = min_support
        self.min_cosine = min_cosine
        self.citations: dict[int, Citation] = {}
        self.removed: list[str] = []

    def supports(self, claim: str, source: Source) -> bool:
        words = content_words(claim)
        if not words or overlap(words, content_words(source.text)) >= self.min_support:
            return True
        return (self.embedder is not None
                and _cosine(self.embedder, claim, source.text) >= self.min_cosine)

    def check(self, numbers: Sequence[int], claim: str) -> list[int]:
        kept: list[int] = []
        for n in numbers:
            source = self.sources.get(n)
            if source is None:
                self.removed.append(f"[{n}]: no such source (sources are "
                                    f"[1]..[{len(self.sources)}])")
            elif not self.supports(claim, source):
                self.removed.append(f"[{n}]: source {n} does not support {claim!r}")
            else:
                kept.append(n)
                self.citations.setdefault(n, _citation(n, source, claim))
        return kept


def _claims(text: str) -> list[tuple[int, int, str]]:
    """(start, end, claim text without markers) for each sentence of `text`."""
    out = []
    pos = 0
    for sentence in split_sentences(text):
        start = text.index(sentence, pos)
        pos = start + len(sentence)
        out.append((start, pos, MARKER.sub("", sentence).strip()))
    return out


def _claim_for(marker_start: int, text: str, claims: list[tuple[int, int, str]]) -> str:
    """The sentence a marker belongs to; a marker opening a sentence cites the previous one."""
    for i, (start, end, claim) in enumerate(claims):
        if marker_start < end:
            opens_sentence = not MARKER.sub("", text[start:max(start, marker_start)]).strip()
            return claims[i - 1][2] if opens_sentence and i > 0 else claim
    return claims[-1][2] if claims else ""


def _attribute(text: str, verifier: _Verifier, min_share: float) -> str:
    """Add [n] to each sentence that one source clearly supports (the answer cited nothing)."""
    pieces: list[str] = []
    pos = 0
    for start, end, claim in _claims(text):
        words = set() if says_no_answer(claim) else content_words(claim)
        best = max(verifier.sources.values(), default=None,
                   key=lambda s: overlap(words, content_words(s.text)))
        sentence = text[start:end]
        if best is not None and words and overlap(words, content_words(best.text)) >= min_share:
            verifier.citations.setdefault(best.n, _citation(best.n, best, claim))
            m = _END_PUNCT.search(sentence)
            cut = m.start() if m else len(sentence)
            sentence = f"{sentence[:cut]} [{best.n}]{sentence[cut:]}"
        pieces.append(text[pos:start] + sentence)
        pos = end
    return "".join(pieces) + text[pos:]


def build_answer(text: str, context: Context, *, provider: str, extractive: bool = False,
                 embedder: DocumentEmbedder | None = None, preamble: str = "",
                 min_support: float = 0.3, min_cosine: float = 0.5,
                 attribute_share: float = 0.6) -> Answer:
    """Verify the citations of a generated `text` against the context and build the Answer.

    `preamble` (e.g. "Extractive answer:") is kept in front of the text but is not a claim.

    >>> answer = build_answer("RRF fuses ranks [1]. It was invented in 1850 [7].", ctx,
    ...                       provider="openai")                      # doctest: +SKIP
    >>> answer.removed_citations                                      # doctest: +SKIP
    ['[7]: no such source (sources are [1]..[3])']
    """
    text = text.strip()
    verifier = _Verifier(context, embedder, min_support, min_cosine)
    claims = _claims(text)
    quoted = _quoted_source_spans(text, context)

    def rewrite(m: re.Match[str]) -> str:
        if any(start < m.start() < end for start, end in quoted):
            return m.group(0)
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        kept = verifier.check(numbers, _claim_for(m.start(), text, claims))
        if kept == numbers:
            return m.group(0)
        return f" [{', '.join(map(str, kept))}]" if kept else ""

    had_markers = any(not any(start < m.start() < end for start, end in quoted)
                      for m in MARKER.finditer(text))
    checked = MARKER.sub(rewrite, text).strip()
    if not checked:
        checked = DONT_KNOW
    if not had_markers and not is_dont_know(checked):
        checked = _attribute(checked, verifier, attribute_share)
    unsupported = [
        claim for _, _, claim in _claims(checked)
        if content_words(claim) and not says_no_answer(claim)
        and not any(verifier.supports(claim, s) for s in verifier.sources.values())
    ]
    citations = [verifier.citations[n] for n in sorted(verifier.citations)]
    if preamble and not is_dont_know(checked):
        checked = f"{preamble}\n{checked}"
    return Answer(text=checked, citations=citations, provider=provider, extractive=extractive,
                  sources_used=list(context.sources), removed_citations=verifier.removed,
                  unsupported_sentences=unsupported,
                  instruction_like=find_instruction_like(context.sources))
