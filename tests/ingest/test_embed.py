"""The embedder: the bundled model, offline, deterministic, and its tokenizer for chunk sizes."""

from __future__ import annotations

import math

import pytest

from es_rag.embedding.local import Embedder, ModelNotAvailableError
from es_rag.ingest.chunk import Chunker, tokenizer_spans
from es_rag.ingest.parse import ParsedDocument

PASSAGES = [
    "Reciprocal rank fusion merges the BM25 and kNN result lists using a rank constant.",
    "The embedded engine stores every acknowledged write durably on disk.",
    "Sourdough bread rises slowly with a starter of flour and water.",
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_bundled_model_describes_itself(embedder: Embedder) -> None:
    assert embedder.model_name == "all-MiniLM-L6-v2"
    assert embedder.dims == 384
    assert embedder.max_seq_length == 256


def test_passages_become_unit_vectors_in_order(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(PASSAGES)
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(isinstance(x, float) for x in vectors[0])
    assert all(math.isclose(cosine(v, v), 1.0, abs_tol=1e-5) for v in vectors)
    assert embedder.embed_documents([]) == []


def test_embeddings_are_deterministic_and_batching_does_not_change_them(
        embedder: Embedder) -> None:
    once = embedder.embed_documents(PASSAGES)
    again = Embedder(batch_size=1).embed_documents(PASSAGES)
    for a, b in zip(once, again, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5
    assert embedder.embed_documents(PASSAGES) == once


def test_a_query_lands_nearest_the_passage_that_answers_it(embedder: Embedder) -> None:
    query = embedder.embed_query("how are lexical and vector rankings combined?")
    scores = [cosine(query, passage) for passage in embedder.embed_documents(PASSAGES)]
    assert scores.index(max(scores)) == 0


def test_the_model_is_loaded_once_per_process(embedder: Embedder) -> None:
    assert Embedder().model is embedder.model


def test_a_model_that_is_not_on_this_machine_is_a_clear_error() -> None:
    with pytest.raises(ModelNotAvailableError,
                       match="'acme/not-installed-model' is not available on this machine"):
        Embedder("acme/not-installed-model")


def test_chunks_counted_with_the_model_tokenizer_fit_the_model(embedder: Embedder) -> None:
    text = "\n\n".join(PASSAGES * 40)
    chunker = Chunker(chunk_size=64, overlap=8, token_spans=tokenizer_spans(embedder.tokenizer))
    chunks = chunker.chunk(ParsedDocument(text=text, mime_type="text/plain"))
    assert len(chunks) > 5
    for chunk in chunks:
        ids = embedder.tokenizer(chunk.text, add_special_tokens=False)["input_ids"]
        assert len(ids) <= 64
        assert text[chunk.start:chunk.end] == chunk.text
