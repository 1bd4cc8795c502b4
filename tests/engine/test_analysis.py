"""Analyzers tokenize like Lucene's standard and english analyzers."""

from __future__ import annotations

from es_rag.engine.index.analysis import analyze, tokens, words_with_offsets


def test_standard_keeps_word_internal_punctuation_in_one_token() -> None:
    terms = analyze("standard", "Don't pay $3.14 in the U.S.A., ok?")
    assert len(terms) == 7  # don't | pay | 3.14 | in | the | u.s.a | ok
    assert terms[1] == "pay" and terms[4] == "the" and terms[6] == "ok"


def test_english_drops_stop_words_possessives_and_stems() -> None:
    assert analyze("english", "The cat's toys are running") == ["cat", "toy", "run"]


def test_positions_keep_stop_word_gaps() -> None:
    assert [pos for _, pos in tokens("english", "quick foxes of the world")] == [0, 1, 4]


def test_highlight_offsets_point_into_the_original_text() -> None:
    text = "Foxes' dens, and a fox's den."
    spans = [(term, text[start:end]) for term, start, end in words_with_offsets("english", text)]
    assert ("fox", "fox's") in spans and ("den", "den") in spans
