"""The extractive answerer: no LLM, it quotes the source sentences that best answer the question."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from es_rag.embedding.cache import through_memo
from es_rag.embedding.protocols import DocumentEmbedder
from es_rag.generate.citations import Answer, build_answer
from es_rag.generate.context import Context, Source
from es_rag.generate.dont_know import is_dont_know
from es_rag.generate.injection import instruction_kind
from es_rag.generate.prompts import DONT_KNOW
from es_rag.generate.quotes import clean_quote
from es_rag.generate.sentences import content_words, overlap, split_passage

PREAMBLE = "Extractive answer (sentences quoted from the sources; no language model was used):"


_LEANS_BACK = re.compile(r"^[\"'(]?(?:it|its|this|that|these|those|they|their|them|he|she|his|"
                         r"her|such|both|here|there)\b", re.IGNORECASE)
LEAN_PENALTY = 0.1
_NOT_PROSE = re.compile(r"^\s*(?:#{1,6}\s|\|?\s*:?-{3,}|```|!\[)")
_FENCE_LINE = re.compile(r"^\s*(?:```|~~~)[ \t]*(\S*)", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


# a chunk may start inside a code block cut by the chunker: code reads as dense punctuation
_CODE_MARKS = frozenset('{}[]<>|\\"=$;/`')
CODE_MARK_SHARE = 0.1


def _inside_code_or_comment(text: str) -> list[tuple[int, int]]:
    """Spans of fenced code and HTML comments. With an odd number of fence lines the chunker cut
    a block: if the first fence opens one (```bash), the last block runs to the end; if it is a
    bare closing fence, the chunk starts inside a block."""
    found = list(_FENCE_LINE.finditer(text))
    fences = [m.start() for m in found]
    if len(fences) % 2 and not found[0].group(1):
        fences.insert(0, 0)
    fences.append(len(text))
    spans = [(fences[i], fences[i + 1]) for i in range(0, len(fences) - 1, 2)]
    return spans + [m.span() for m in _COMMENT.finditer(text)]


def _looks_like_code(quote: str) -> bool:
    return sum(c in _CODE_MARKS for c in quote) > CODE_MARK_SHARE * max(len(quote), 1)


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a source with its relevance to the question (`quote`: it cleaned)."""

    source: Source
    sentence: str
    quote: str
    lexical: float
    semantic: float | None
    score: float


def _weighted_overlap(question: set[str], sentences: list[set[str]]) -> list[float]:
    """Per sentence, the share of the question's content words it holds, each word weighted by
    its rarity among the sentences (idf): "k1" counts for more than "engine"."""
    if not question:
        return [0.0] * len(sentences)
    n = len(sentences)
    weight = {w: math.log((n + 1) / (sum(w in s for s in sentences) + 0.5)) for w in question}
    total = sum(weight.values()) or 1.0
    return [sum(weight[w] for w in question & s) / total for s in sentences]


def _candidates(sources: list[Source]) -> list[tuple[Source, str, str, str | None]]:
    """(source, sentence, quote, window) for each quotable sentence of the sources.

    Headings, table rules, code (fenced blocks), HTML comments, questions and fragments with
    fewer than three content words ("Table 1.") are not quotable; nor is an instruction-like
    sentence. A sentence that leans on the one before it ("It was built in 1889.") has a
    window: it with that one.
    """
    out = []
    for src in sources:
        previous = ""
        hidden = _inside_code_or_comment(src.text)
        cursor = 0
        for sentence in split_passage(src.text):
            start = src.text.find(sentence, cursor)
            cursor = max(cursor, start)
            end = start + len(sentence)
            in_code = any(a < end and start < b for a, b in hidden)
            quote = clean_quote(sentence)
            quotable = (not in_code and not _NOT_PROSE.match(sentence)
                        and not _looks_like_code(quote)
                        and not quote.rstrip("\\\"') ").endswith("?")
                        and len(content_words(quote)) >= 3
                        and instruction_kind(sentence) is None)
            if quotable:
                leans = previous and _LEANS_BACK.match(quote)
                out.append((src, sentence, quote, f"{previous} {quote}" if leans else None))
            previous = quote
    return out


class ExtractiveGenerator:
    """Quotes the source sentences most similar to the question, best first.

    Sentences are scored by the cosine of their embedding with the question's (the query
    vector of the search, reused; all sentences embedded in one batch) weighted by
    `semantic_weight`, and by the share of the question's content words they hold, rare words
    counting more. A sentence is relevant when that share reaches `min_lexical` or, with an
    embedder, when its cosine reaches `min_cosine`; with no relevant sentence the answer is
    "I don't know". After the best sentence come up to `max_sentences - 1` others scoring at
    least `keep_ratio` of it. Quotes are cleaned of footnote markers and Markdown syntax; a
    sentence that repeats a chosen one (`duplicate_overlap` of its words: another copy of the
    same document) or reads as an instruction to the model is never quoted.

    >>> gen = ExtractiveGenerator(embedder)                 # doctest: +SKIP
    >>> print(gen.generate("What is RRF?", context).text)   # doctest: +SKIP
    Extractive answer (sentences quoted from the sources; no language model was used):
    "Reciprocal rank fusion combines several rankings." [1]
    """

    name = "extractive"
    extractive = True

    def __init__(self, embedder: DocumentEmbedder | None = None, *, max_sentences: int = 3,
                 max_sources: int = 8, min_cosine: float = 0.3, min_lexical: float = 0.5,
                 keep_ratio: float = 0.85, duplicate_overlap: float = 0.6,
                 semantic_weight: float = 0.6) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_sources = max_sources
        self.min_cosine = min_cosine
        self.min_lexical = min_lexical
        self.keep_ratio = keep_ratio
        self.duplicate_overlap = duplicate_overlap
        self.semantic_weight = semantic_weight

    def score_sentences(self, question: str, context: Context) -> list[ScoredSentence]:
        """Every quotable sentence of the top sources, scored against the question, best first
        (ties: the better-ranked source first)."""
        candidates = _candidates(context.sources[: self.max_sources])
        if not candidates:
            return []
        q_words = content_words(question)
        semantic: list[float | None] = [None] * len(candidates)
        embedder = through_memo(self.embedder, context.embedder)
        if embedder is not None:
            windows = [c[3] for c in candidates if c[3] is not None]
            vectors = np.asarray([embedder.embed_query(question)] + embedder.embed_documents(
                [c[2] for c in candidates] + windows), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            cosines = (vectors[1:] @ vectors[0]).tolist()
            by_window = iter(cosines[len(candidates):])
            # a leaning sentence scores with its antecedent, a little below it, so that "It was
            # renamed in 1924." does not outrank "IBM was founded in 1911." on "founded?"
            semantic = [cos if c[3] is None else max(cos, next(by_window) - LEAN_PENALTY)
                        for c, cos in zip(candidates, cosines, strict=False)]
        words = [content_words(window or quote) for _, _, quote, window in candidates]
        lexical = _weighted_overlap(q_words, words)
        scored = [ScoredSentence(src, s, quote, lex, sem, self._score(lex, sem))
                  for (src, s, quote, _), lex, sem
                  in zip(candidates, lexical, semantic, strict=True)]
        return sorted(scored, key=lambda x: (-x.score, x.source.n))

    def _score(self, lexical: float, semantic: float | None) -> float:
        if semantic is None:
            return lexical
        return self.semantic_weight * semantic + (1 - self.semantic_weight) * lexical

    def _relevant(self, s: ScoredSentence) -> bool:
        if s.lexical >= self.min_lexical:
            return True
        return s.semantic is not None and s.semantic >= self.min_cosine

    def choose(self, question: str, context: Context) -> list[ScoredSentence]:
        """The sentences to quote: the best one, then others nearly as good that repeat none."""
        relevant = [s for s in self.score_sentences(question, context) if self._relevant(s)]
        chosen: list[ScoredSentence] = []
        seen: list[set[str]] = []
        for s in relevant:
            if len(chosen) == self.max_sentences or s.score < self.keep_ratio * relevant[0].score:
                break
            words = content_words(s.quote)
            if any(overlap(words, other) >= self.duplicate_overlap
                   or overlap(other, words) >= self.duplicate_overlap for other in seen):
                continue
            chosen.append(s)
            seen.append(words)
        return chosen

    def compose(self, question: str, context: Context) -> str:
        """The answer text: quoted sentences with [n], or "I don't know"."""
        chosen = self.choose(question, context)
        if not chosen:
            return DONT_KNOW
        lines = [f'"{s.quote}" [{s.source.n}]' for s in chosen]
        return PREAMBLE + "\n" + "\n".join(lines)

    def stream(self, question: str, context: Context) -> Iterator[str]:
        text = self.compose(question, context)
        for i, line in enumerate(text.split("\n")):
            yield ("\n" if i else "") + line

    def finish(self, text: str, context: Context) -> Answer:
        if is_dont_know(text):
            return build_answer(DONT_KNOW, context, provider=self.name, extractive=True)
        body = text.removeprefix(PREAMBLE).strip()
        return build_answer(body, context, provider=self.name, extractive=True,
                            preamble=PREAMBLE)

    def generate(self, question: str, context: Context) -> Answer:
        return self.finish(self.compose(question, context), context)
