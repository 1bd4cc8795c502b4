"""The `term` and `phrase` suggesters. Term: for each token of the text, indexed terms within
`max_edits` (Damerau-Levenshtein, sharing `prefix_length` leading characters) scored as
Lucene's DirectSpellChecker scores them (1 - edits / shorter length). Phrase: the text with
up to `max_errors` tokens replaced by such candidates, ranked by a unigram language model with
Elasticsearch's defaults (real-word error likelihood 0.95, confidence 1.0, one error).
Document frequencies count only the documents the reader may see."""

from __future__ import annotations

import math
from typing import Any

import tantivy

from ..index.analysis import words_with_offsets
from ..query.base import QueryContext

TERM_KEYS = {"field", "analyzer", "size", "sort", "suggest_mode", "accuracy", "max_edits",
             "max_inspections", "max_term_freq", "prefix_length", "min_word_length",
             "min_doc_freq", "shard_size", "string_distance", "lowercase_terms"}
PHRASE_KEYS = {"field", "analyzer", "size", "shard_size", "real_word_error_likelihood",
               "confidence", "max_errors", "separator", "gram_size", "highlight",
               "direct_generator", "token_limit", "force_unigrams"}


def _tokens(ctx: QueryContext, field: str, text: str, options: dict[str, Any]
            ) -> list[tuple[str, int, int]]:
    spec = ctx.spec(field)
    name = options.get("analyzer") or (
        "keyword" if spec is None or spec.type == "keyword" else spec.search_analyzer)
    return words_with_offsets(str(name), text)


def _frequencies(ctx: QueryContext, field: str, prefix: str) -> dict[str, int]:
    """Document frequency of each term of `field` beginning with `prefix`, among the
    documents the reader may see."""
    if ctx.kind(field) not in ("text", "keyword"):
        return {}
    visible = ctx.alias_filter or tantivy.Query.all_query()
    return dict(ctx.shard.fulltext.searcher.terms_with_prefix(field, prefix,
                                                              filter_query=visible))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions count one), `limit + 1` once
    beyond `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def candidates(ctx: QueryContext, field: str, term: str, options: dict[str, Any],
               mode: str) -> list[tuple[str, float, int]]:
    """(text, score, freq) of the corrections of one term, best first, as DirectSpellChecker
    finds them; none when the term is shorter than `min_word_length`, present (mode
    `missing`) or frequent (beyond `max_term_freq`)."""
    if len(term) < int(options.get("min_word_length", 4)):
        return []
    prefix = term[:int(options.get("prefix_length", 1))]
    freqs = _frequencies(ctx, field, prefix)
    own = freqs.get(term, 0)
    if mode == "missing" and own > 0:
        return []
    max_docs = ctx.shard.fulltext.count(ctx.alias_filter or tantivy.Query.all_query())
    max_freq = float(options.get("max_term_freq", 0.01))
    if own > (max_freq if max_freq >= 1 else math.ceil(max_freq * max_docs)):
        return []
    threshold = own if mode == "popular" else 0
    min_freq = float(options.get("min_doc_freq", 0))
    threshold = max(threshold, int(min_freq) if min_freq >= 1 else
                    int(min_freq * max_docs) - 1 if min_freq > 0 else 0)
    max_edits = int(options.get("max_edits", 2))
    accuracy = float(options.get("accuracy", 0.5))
    found = []
    for text, freq in freqs.items():
        if text == term or freq <= threshold:
            continue
        edits = edit_distance(term, text, max_edits)
        if edits > max_edits:
            continue
        score = 1.0 - edits / min(len(text), len(term))
        if score >= accuracy:
            found.append((text, score, freq))
    return _sorted(found, options)


def _sorted(found: list[tuple[str, float, int]], options: dict[str, Any]
            ) -> list[tuple[str, float, int]]:
    if options.get("sort", "score") == "frequency":
        return sorted(found, key=lambda c: (-c[2], -c[1], c[0]))
    return sorted(found, key=lambda c: (-c[1], -c[2], c[0]))


def term_entries(ctx: QueryContext, text: str, options: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """One entry per token of `text` in one index, with its options."""
    field = str(options["field"])
    mode = str(options.get("suggest_mode", "missing"))
    size = int(options.get("shard_size", options.get("size", 5)))
    return [{"text": term, "offset": start, "length": end - start,
             "options": [{"text": t, "score": s, "freq": f}
                         for t, s, f in candidates(ctx, field, term, options, mode)[:size]]}
            for term, start, end in _tokens(ctx, field, text, options)]


def merge_terms(per_index: list[list[dict[str, Any]]], options: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """The entries of every index merged: an option found in several sums its frequencies
    and keeps its best score (TermSuggestion's reduce)."""
    if not per_index:
        return []
    size = int(options.get("size", 5))
    out = []
    for position, entry in enumerate(per_index[0]):
        merged: dict[str, tuple[str, float, int]] = {}
        for entries in per_index:
            if position >= len(entries):
                continue
            for option in entries[position]["options"]:
                text, score, freq = option["text"], option["score"], option["freq"]
                seen = merged.get(text)
                merged[text] = (text, max(score, seen[1]), freq + seen[2]) if seen else \
                    (text, score, freq)
        best = _sorted(list(merged.values()), options)[:size]
        out.append({**entry, "options": [{"text": t, "score": s, "freq": f}
                                         for t, s, f in best]})
    return out


def phrase_entries(contexts: list[QueryContext], text: str, options: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """One entry for the whole text: corrected phrases scoring above `confidence` times the
    text's own score, best first."""
    field = str(options["field"])
    entry: dict[str, Any] = {"text": text, "offset": 0, "length": len(text), "options": []}
    if not contexts:
        return [entry]
    tokens = _tokens(contexts[0], field, text, options)
    if not tokens:
        return [entry]
    freqs: dict[str, int] = {}
    total = 0
    for ctx in contexts:
        for term, freq in _frequencies(ctx, field, "").items():
            freqs[term] = freqs.get(term, 0) + freq
            total += freq
    generator = (options.get("direct_generator") or [{}])[0]
    mode = str(generator.get("suggest_mode", "missing"))
    source = str(generator.get("field", field))  # where candidates come from
    rwel = float(options.get("real_word_error_likelihood", 0.95))
    choices = []
    for term, _, _ in tokens:
        found: dict[str, float] = {}
        for ctx in contexts:
            for cand, score, _ in candidates(ctx, source, term, generator, mode):
                found[cand] = max(score, found.get(cand, 0.0))
        choices.append([(term, None)] + sorted(found.items(), key=lambda c: -c[1]))

    vocabulary = len(freqs)

    def word_score(word: str, similarity: float | None) -> float:
        # the channel (a word kept: the real-word likelihood; a correction: its similarity)
        # times the unigram model smoothed as WordScorer smooths it
        channel = rwel if similarity is None else similarity
        return math.log10(channel * (1 + freqs.get(word, 0)) / (vocabulary + total))

    original = sum(word_score(term, None) for term, _, _ in tokens)
    max_errors = float(options.get("max_errors", 1.0))
    allowed = int(max_errors) if max_errors >= 1 else max(1, int(max_errors * len(tokens)))
    phrases = _corrections(choices, allowed, word_score)
    confidence = float(options.get("confidence", 1.0))
    threshold = original + math.log10(confidence) if confidence > 0 else -math.inf
    ranked = sorted(((score, words) for score, words in phrases if score > threshold),
                    key=lambda p: -p[0])[:int(options.get("size", 5))]
    separator = str(options.get("separator", " "))
    highlight = options.get("highlight") or {}
    for score, words in ranked:
        option: dict[str, Any] = {"text": separator.join(w for w, _ in words),
                                  "score": math.pow(10, score)}
        if highlight:
            option["highlighted"] = separator.join(
                f"{highlight.get('pre_tag', '')}{w}{highlight.get('post_tag', '')}"
                if c is not None else w for w, c in words)
        entry["options"].append(option)
    return [entry]


def _corrections(choices: list[list[tuple[str, float | None]]], allowed: int,
                 score: Any) -> list[tuple[float, list[tuple[str, float | None]]]]:
    """Every phrase changing between one and `allowed` tokens, with its log10 score."""
    phrases: list[tuple[float, list[tuple[str, float | None]]]] = [(0.0, [])]
    for options in choices:
        phrases = [(total + score(word, sim), words + [(word, sim)])
                   for total, words in phrases for word, sim in options[:6]
                   if sum(s is not None for _, s in words) + (sim is not None) <= allowed]
        phrases = sorted(phrases, key=lambda p: -p[0])[:64]
    return [(total, words) for total, words in phrases
            if any(sim is not None for _, sim in words)]
