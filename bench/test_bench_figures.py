"""Checks that the benchmark's corpus and measurements are what its README says
(run with `.venv/bin/pytest bench`; no model, no engine)."""

from __future__ import annotations

import numpy as np
import pytest
from measures import (
    Latency,
    Runner,
    exact_top_k,
    parse_byte_size,
    recall_at_k,
    time_interleaved,
)
from profile_summary import summarise
from scifact_corpus import (
    CHUNK_WORDS,
    SCIFACT_DIR,
    Chunk,
    chunk_passages,
    chunk_vectors,
    expand_chunks,
    load_base_chunks,
)

needs_scifact = pytest.mark.skipif(not (SCIFACT_DIR / "corpus.jsonl").is_file(),
                                   reason=f"SciFact not found at {SCIFACT_DIR}")


def test_an_abstract_is_cut_into_passages_of_40_to_200_words() -> None:
    sentence = "Cells divide when the signal arrives and the membrane stays intact. "
    passages = chunk_passages(sentence * 40)
    assert len(passages) >= 2
    assert all(CHUNK_WORDS[0] <= len(p.split()) <= CHUNK_WORDS[1] for p in passages)


@needs_scifact
def test_copies_of_a_passage_differ_but_keep_most_of_its_words() -> None:
    bases = load_base_chunks(SCIFACT_DIR / "corpus.jsonl", 50)
    chunks = expand_chunks(bases, 150)
    assert len({c.chunk_id for c in chunks}) == 150
    original, copy = chunks[0], chunks[50]
    assert copy.base == original.base and copy.text != original.text
    assert copy.borrowed not in (None, original.base)
    assert len(copy.text.split()) <= CHUNK_WORDS[1]
    shared = set(original.text.split()) & set(copy.text.split())
    assert len(shared) > 0.8 * len(set(original.text.split()))


def test_a_copys_vector_leans_to_its_base_and_towards_the_passage_it_borrowed_from() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    original = Chunk("a-0-0", "a", 0, "t", "x", 0)
    copies = [Chunk(f"a-0-{i}", "a", 0, "t", "x", 0, borrowed=1, borrowed_weight=0.4)
              for i in (1, 2)]
    vectors = chunk_vectors(base, [original, *copies])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], base[0])
    assert float(vectors[1] @ base[0]) > float(vectors[1] @ base[1]) > float(vectors[1] @ base[2])
    assert not np.allclose(vectors[1], vectors[2])


def test_recall_counts_the_exact_neighbours_a_search_found() -> None:
    vectors = np.eye(4, dtype=np.float32)
    query = np.array([[0.9, 0.4, 0.1, 0.0]], dtype=np.float32)
    exact = exact_top_k(vectors, query, 2)
    assert exact.tolist() == [[0, 1]]
    ids = ["a", "b", "c", "d"]
    assert recall_at_k(Latency(ids=[["a", "c"]]), exact, ids) == 0.5
    assert recall_at_k(Latency(ids=[["a"]], error="refused"), exact, ids) is None


def test_a_refusing_system_stops_while_the_other_keeps_being_timed() -> None:
    def refuse(i: int) -> list[str]:
        raise ValueError("unknown query")

    latencies = time_interleaved(
        {"ok": Runner(lambda i: [str(i)], (ValueError,)), "bad": Runner(refuse, (ValueError,))},
        count=30, warmup=2, block=7)
    assert latencies["ok"].ids == [[str(i)] for i in range(30)]
    assert latencies["ok"].percentile(50) is not None
    assert latencies["bad"].error == "unknown query"
    assert latencies["bad"].percentile(50) is None


def test_a_profile_is_summed_by_function_over_the_stacks_of_one_phase() -> None:
    lines = [
        "main (bench.py:1);bulk (routes.py:5);apply (docstore.py:150) 6",
        "main (bench.py:1);bulk (routes.py:5);parse (mapping.py:417) 3",
        "main (bench.py:1);bulk (routes.py:9);parse (mapping.py:420) 1",
        "main (bench.py:1);search (routes.py:30) 10",
    ]
    total, inclusive, own = summarise(lines, through="bulk (")
    assert total == 10
    assert inclusive["parse (mapping.py)"] == 4
    assert inclusive["bulk (routes.py)"] == 10
    assert own.most_common(1) == [("apply (docstore.py:150)", 6)]


def test_store_sizes_are_read_in_bytes_or_with_units() -> None:
    assert parse_byte_size("1234") == 1234
    assert parse_byte_size("33kb") == 33 * 1024
    assert parse_byte_size("1.5mb") == int(1.5 * 1024**2)
    with pytest.raises(ValueError, match="not a byte size"):
        parse_byte_size("lots")
