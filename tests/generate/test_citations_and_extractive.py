"""Citations a reader can check, and the extractive answerer that quotes its sources."""

from __future__ import annotations

from es_rag.generate import (
    DONT_KNOW,
    ExtractiveGenerator,
    assemble_context,
    build_answer,
)


def test_invented_and_unsupported_citations_are_removed_and_reported(hits) -> None:
    ctx = assemble_context(hits)
    answer = build_answer(
        "The Eiffel Tower was completed in 1889 [2][7]. Reciprocal rank fusion needs no "
        "tuning [1]. Bananas are an excellent source of potassium [3].", ctx, provider="openai")
    assert answer.text == ("The Eiffel Tower was completed in 1889 [2]. Reciprocal rank fusion "
                           "needs no tuning [1]. Bananas are an excellent source of potassium.")
    assert answer.removed_citations[0].startswith("[7]: no such source")
    assert answer.removed_citations[1].startswith("[3]: source 3 does not support")
    assert [c.n for c in answer.citations] == [1, 2]
    assert answer.unsupported_sentences == ["Bananas are an excellent source of potassium."]


def test_every_quote_is_a_substring_of_its_chunk(hits) -> None:
    ctx = assemble_context(hits)
    answer = build_answer("It was completed in 1889 [2]. Fusion sums reciprocal ranks [1].",
                          ctx, provider="local")
    by_n = {s.n: s for s in ctx.sources}
    for citation in answer.citations:
        assert citation.quote in by_n[citation.n].text
        assert citation.chunk_id == by_n[citation.n].chunk_id
    assert answer.citations[1].quote == "It was completed in 1889 for the World's Fair."
    assert answer.citations[1].page == 2 and answer.citations[1].source == "docs/eiffel.md"


def test_a_marker_after_the_full_stop_cites_the_sentence_before_it(hits) -> None:
    answer = build_answer("The tower was completed in 1889. [2]", assemble_context(hits),
                          provider="openai")
    assert [c.n for c in answer.citations] == [2] and not answer.removed_citations


def test_uncited_sentences_are_attributed_to_the_source_that_supports_them(hits) -> None:
    answer = build_answer("The Eiffel Tower stands in Paris.", assemble_context(hits),
                          provider="openai")
    assert answer.text == "The Eiffel Tower stands in Paris [2]."
    assert answer.citations[0].chunk_id == "eiffel-0"


def test_extractive_answer_quotes_the_right_chunk_and_says_it_is_extractive(hits,
                                                                            embedder) -> None:
    gen = ExtractiveGenerator(embedder)
    answer = gen.generate("When was the Eiffel Tower completed?", assemble_context(hits))
    assert answer.extractive and answer.provider == "extractive"
    assert answer.text.startswith("Extractive answer")
    assert "no language model" in answer.text
    assert '"It was completed in 1889 for the World\'s Fair." [2]' in answer.text
    assert answer.citations[0].chunk_id == "eiffel-0"
    assert all(c.quote in hits[1].text or c.quote in hits[0].text for c in answer.citations)


def test_extractive_says_it_does_not_know_when_nothing_is_relevant(hits, embedder) -> None:
    gen = ExtractiveGenerator(embedder)
    answer = gen.generate("What is the boiling point of mercury?", assemble_context(hits))
    assert answer.text == DONT_KNOW and answer.citations == []


def test_extractive_streams_the_same_text_it_generates(hits, embedder) -> None:
    gen = ExtractiveGenerator(embedder)
    ctx = assemble_context(hits)
    streamed = "".join(gen.stream("How does reciprocal rank fusion score documents?", ctx))
    assert gen.finish(streamed, ctx).text == gen.generate(
        "How does reciprocal rank fusion score documents?", ctx).text
    assert "[1]" in streamed


def test_extractive_without_embedder_uses_word_overlap(hits) -> None:
    answer = ExtractiveGenerator().generate("sourdough starter flour", assemble_context(hits))
    assert answer.citations[0].chunk_id == "bread-0"


def test_a_paraphrase_keeps_its_citation_through_embedding_support(hits, embedder) -> None:
    ctx = assemble_context(hits)
    claim = "The tower is located in the French capital [2]."
    lexical_only = build_answer(claim, ctx, provider="openai")
    assert lexical_only.citations == [] and lexical_only.removed_citations
    with_embeddings = build_answer(claim, ctx, provider="openai", embedder=embedder)
    assert [c.chunk_id for c in with_embeddings.citations] == ["eiffel-0"]
    assert with_embeddings.text == claim and not with_embeddings.removed_citations
