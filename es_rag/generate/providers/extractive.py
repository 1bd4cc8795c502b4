"""The extractive answerer: no LLM, it quotes the source sentences that best answer the question."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from es_rag.generate.citations import Answer, build_answer
from es_rag.generate.context import Context, Source
from es_rag.generate.dont_know import is_dont_know
from es_rag.generate.prompts import DONT_KNOW
from es_rag.generate.sentences import content_words, overlap, split_sentences
from es_rag.generate.vectors import through_memo
from es_rag.retrieve.embedding import DocumentEmbedder

PREAMBLE = "Extractive answer (sentences quoted from the sources; no language model was used):"


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a source with its relevance to the question."""

    source: Source
    sentence: str
    lexical: float
    semantic: float | None

    @property
    def score(self) -> float:
        if self.semantic is None:
            return self.lexical
        return 0.7 * self.semantic + 0.3 * self.lexical


class ExtractiveGenerator:
    """Selects the sentences of the top sources that best answer the question and quotes them.

    A sentence is relevant when it contains at least half the question's content words or, with
    an embedder, when its embedding's cosine with the question reaches `min_cosine`. With no
    relevant sentence the answer is "I don't know".

    >>> gen = ExtractiveGenerator(embedder)                 # doctest: +SKIP
    >>> print(gen.generate("What is RRF?", context).text)   # doctest: +SKIP
    Extractive answer (sentences quoted from the sources; no language model was used):
    "Reciprocal rank fusion combines several rankings." [1]
    """

    name = "extractive"
    extractive = True

    def __init__(self, embedder: DocumentEmbedder | None = None, *, max_sentences: int = 3,
                 max_sources: int = 3, min_cosine: float = 0.4,
                 min_lexical: float = 0.5) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_sources = max_sources
        self.min_cosine = min_cosine
        self.min_lexical = min_lexical

    def score_sentences(self, question: str, context: Context) -> list[ScoredSentence]:
        """Every sentence of the top sources, scored against the question, best first.

        A sentence is scored together with the one before it, so that "It was built in 1889."
        still matches a question about the tower named in the previous sentence.
        """
        candidates: list[tuple[Source, str, str]] = []
        for src in context.sources[: self.max_sources]:
            sentences = split_sentences(src.text)
            for i, sentence in enumerate(sentences):
                window = f"{sentences[i - 1]} {sentence}" if i else sentence
                candidates.append((src, sentence, window))
        if not candidates:
            return []
        q_words = content_words(question)
        semantic: list[float | None] = [None] * len(candidates)
        embedder = through_memo(self.embedder, context.embedder)
        if embedder is not None:
            vectors = np.asarray([embedder.embed_query(question)]
                                 + embedder.embed_documents([w for _, _, w in candidates]),
                                 dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            semantic = (vectors[1:] @ vectors[0]).tolist()
        scored = [ScoredSentence(src, s, overlap(q_words, content_words(w)), sem)
                  for (src, s, w), sem in zip(candidates, semantic, strict=True)]
        return sorted(scored, key=lambda x: -x.score)

    def _relevant(self, s: ScoredSentence) -> bool:
        if s.lexical >= self.min_lexical:
            return True
        return s.semantic is not None and s.semantic >= self.min_cosine

    def compose(self, question: str, context: Context) -> str:
        """The answer text: quoted sentences with [n], or "I don't know"."""
        chosen = [s for s in self.score_sentences(question, context) if self._relevant(s)]
        if not chosen:
            return DONT_KNOW
        top = chosen[0].score
        chosen = [s for s in chosen if s.score >= 0.5 * top][: self.max_sentences]
        lines = [f'"{s.sentence}" [{s.source.n}]' for s in chosen]
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
