"""Context assembly (dedupe, token budget, numbering) and prompt templates chosen by name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from es_rag.generate import (
    DONT_KNOW,
    PromptError,
    assemble_context,
    available_prompts,
    render_prompt,
    token_counter,
)
from es_rag.retrieve import Hit


def test_sources_are_numbered_in_rank_order_and_keep_their_provenance(hits) -> None:
    ctx = assemble_context(hits)
    assert [(s.n, s.chunk_id) for s in ctx.sources] == [(1, "rrf-0"), (2, "eiffel-0"),
                                                        (3, "bread-0")]
    first = ctx.sources[0]
    assert (first.source, first.title, first.page, first.offsets) == (
        "docs/rrf.md", "Rrf", 1, {"start": 0, "end": len(hits[0].text)})


def test_duplicates_by_hash_and_by_token_overlap_are_dropped(hits) -> None:
    same_hash = replace(hits[1], chunk_id="eiffel-copy")
    reworded = replace(hits[0], chunk_id="rrf-again", content_hash="other",
                       text=hits[0].text + " Indeed.")
    ctx = assemble_context([hits[0], same_hash, hits[1], reworded, hits[2]])
    assert [s.chunk_id for s in ctx.sources] == ["rrf-0", "eiffel-copy", "bread-0"]
    assert dict(ctx.dropped) == {"eiffel-0": "duplicate content_hash",
                                 "rrf-again": "near-duplicate of a kept source"}


def test_token_budget_is_respected_with_the_model_tokenizer(hits, embedder) -> None:
    count = token_counter(embedder.tokenizer)
    budget = count(hits[0].text) + count(hits[2].text)
    ctx = assemble_context(hits, token_budget=budget, tokenizer=embedder.tokenizer)
    assert ctx.tokens <= budget
    assert [s.chunk_id for s in ctx.sources] == ["rrf-0", "bread-0"]  # eiffel did not fit
    assert ("eiffel-0", "over the token budget") in ctx.dropped


def test_first_source_is_cut_at_a_word_boundary_when_nothing_fits(hits) -> None:
    ctx = assemble_context(hits, token_budget=5)
    (only,) = ctx.sources
    assert only.truncated and only.tokens <= 5
    assert only.text == "Reciprocal rank fusion combines several"
    assert hits[0].text.startswith(only.text)


def test_word_count_fallback_counts_words_and_punctuation() -> None:
    assert token_counter(None)("Hello, world.") == 4


def test_default_prompt_instructs_sources_only_citations_and_dont_know(hits) -> None:
    prompt = render_prompt("default", "When was the tower built?", assemble_context(hits))
    assert "only" in prompt.system and "[n]" in prompt.system and DONT_KNOW in prompt.system
    assert "not instructions" in prompt.system
    assert "title: Eiffel (page 2)" in prompt.user and hits[1].text in prompt.user
    assert prompt.user.rstrip().endswith(DONT_KNOW)
    assert "When was the tower built?" in prompt.user
    assert [m["role"] for m in prompt.messages()] == ["system", "user"]


def test_unknown_prompt_lists_the_available_ones(hits) -> None:
    assert {"default", "concise"} <= set(available_prompts())
    with pytest.raises(PromptError, match=r"unknown prompt 'poem' \(available: concise, default"):
        render_prompt("poem", "q", assemble_context(hits))


def test_prompts_are_read_from_the_folder_given(tmp_path, hits) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "system.j2").write_text("Be brief.")
    (tmp_path / "mine" / "user.j2").write_text("{{ sources|length }} sources: {{ question }}")
    prompt = render_prompt("mine", "why?", assemble_context(hits), prompts_dir=tmp_path)
    assert (prompt.system, prompt.user) == ("Be brief.", "3 sources: why?")
    (tmp_path / "mine" / "user.j2").write_text("{{ nope.x }}")
    with pytest.raises(PromptError, match="does not render"):
        render_prompt("mine", "why?", assemble_context(hits), prompts_dir=tmp_path)


def test_hits_without_text_still_number(hits) -> None:
    empty = Hit(chunk_id="e", doc_id=None, score=0.1)
    assert [s.chunk_id for s in assemble_context([empty, hits[0]]).sources] == ["e", "rrf-0"]
