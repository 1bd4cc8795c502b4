"""Context assembly: retrieved hits → deduplicated, numbered sources that fit a token budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from es_rag.embedding.protocols import QueryEmbedder
from es_rag.generate.quotes import clean_quote
from es_rag.generate.sentences import content_words, jaccard
from es_rag.retrieve.hits import Hit

_WORDISH = re.compile(r"\w+|[^\w\s]")
MIN_CONTAINED_WORDS = 20


class Tokenizer(Protocol):
    """The part of a Hugging Face tokenizer used to count tokens."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


TokenCounter = Callable[[str], int]


def token_counter(tokenizer: Tokenizer | None = None) -> TokenCounter:
    """Count tokens with `tokenizer` (e.g. the embedding model's); without one, count words and
    punctuation marks (an overestimate of word-piece tokens for English prose, never an under-)."""
    if tokenizer is None:
        return lambda text: len(_WORDISH.findall(text))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


@dataclass
class Source:
    """One numbered source of the context: what the model sees and what a citation points to."""

    n: int
    chunk_id: str
    doc_id: str | None
    source: str | None
    title: str | None
    page: int | None
    offsets: dict[str, int] | None
    text: str
    score: float
    tokens: int
    truncated: bool = False
    field: str | None = None
    """The document field this passage is, whole (a source's whole-document passages)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Context:
    """The sources given to the generator, and the hits left out with the reason why.

    `embedder` is the ask's memoising embedder (`es_rag.embedding.cache`), through which
    generators embed, so that no text of one ask is embedded twice; `prompt` is what a chat
    model was sent (empty for the extractive answerer), kept for the answer log.
    """

    sources: list[Source]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    token_budget: int = 0
    embedder: QueryEmbedder | None = field(default=None, repr=False, compare=False)
    prompt: list[dict[str, str]] = field(default_factory=list, repr=False, compare=False)
    """The chat messages a model was sent for this context (set by the generator)."""

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.sources)

    def by_number(self) -> dict[int, Source]:
        return {s.n: s for s in self.sources}


def _fit(text: str, budget: int, count: TokenCounter) -> str:
    """The longest word-boundary prefix of `text` within `budget` tokens (a substring of it)."""
    cuts = [m.end() for m in re.finditer(r"\S+", text)]
    lo, hi = 0, len(cuts)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[: cuts[mid - 1]]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[: cuts[lo - 1]] if lo else ""


def _contained(a: set[str], b: set[str]) -> float:
    """Share of the smaller word set found in the other (0 when either is too short to judge)."""
    if min(len(a), len(b)) < MIN_CONTAINED_WORDS:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def assemble_context(hits: Sequence[Hit], *, token_budget: int = 1500,
                     tokenizer: Tokenizer | None = None,
                     dedupe_threshold: float = 0.9,
                     containment_threshold: float = 0.8) -> Context:
    """Number the hits [1]..[n] in rank order, dropping near-duplicates and what does not fit.

    A hit is a near-duplicate when it has the content_hash of a kept hit, or when its words
    (footnotes and Markdown syntax aside) have a token-set (Jaccard) similarity of at least
    `dedupe_threshold` with a kept hit's, or are mostly contained in them or contain them
    (`containment_threshold` of the smaller set, both of at least `MIN_CONTAINED_WORDS`): the
    same passage from the PDF and the Markdown copy of one document is given once. A hit that
    does not fit the remaining budget is skipped (smaller later hits may still fit); when not
    even the first hit fits, its text is cut at a word boundary so the context is never empty.

    >>> ctx = assemble_context(hits, token_budget=1200, tokenizer=tok)  # doctest: +SKIP
    >>> [(s.n, s.chunk_id) for s in ctx.sources]                       # doctest: +SKIP
    """
    if token_budget < 1:
        raise ValueError(f"token_budget must be at least 1, got {token_budget}")
    count = token_counter(tokenizer)
    sources: list[Source] = []
    dropped: list[tuple[str, str]] = []
    kept_words: list[set[str]] = []
    kept_hashes: set[str] = set()
    used = 0
    for hit in hits:
        words = content_words(clean_quote(hit.text))
        if hit.content_hash and hit.content_hash in kept_hashes:
            dropped.append((hit.chunk_id, "duplicate content_hash"))
            continue
        if any(jaccard(words, other) >= dedupe_threshold
               or _contained(words, other) >= containment_threshold for other in kept_words):
            dropped.append((hit.chunk_id, "near-duplicate of a kept source"))
            continue
        text, tokens, truncated = hit.text, count(hit.text), False
        if used + tokens > token_budget:
            if sources:
                dropped.append((hit.chunk_id, "over the token budget"))
                continue
            text = _fit(hit.text, token_budget, count)
            tokens, truncated = count(text), True
        sources.append(Source(n=len(sources) + 1, chunk_id=hit.chunk_id, doc_id=hit.doc_id,
                              source=hit.source, title=hit.title, page=hit.page,
                              offsets=hit.offsets, text=text, score=hit.score, tokens=tokens,
                              truncated=truncated, field=hit.metadata.get("field")))
        used += tokens
        kept_words.append(words)
        if hit.content_hash:
            kept_hashes.add(hit.content_hash)
    return Context(sources=sources, dropped=dropped, token_budget=token_budget)
