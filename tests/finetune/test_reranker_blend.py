"""A trained reranker's score is blended with the fused one by a weight chosen on held-out training
queries (kept only when its gain there is significant), recorded in the model folder's manifest,
and applied by the cross-encoder stage at search time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from es_rag.finetune.data import TrainingQuery
from es_rag.finetune.reranker import choose_blend
from es_rag.retrieve.hits import Hit
from es_rag.retrieve.rerank import CrossEncoderReranker, blend, blend_weight

PASSAGES = {f"d{n}": f"passage {n}" for n in range(8)}
# the first stage ranks each query's relevant document second or third, never first
QUERIES = [TrainingQuery(f"q{n}", f"query {n}", (f"d{n + 1}",), (f"passage {n + 1}",))
           for n in range(4)]
FIRST_STAGE = {q.qid: [(f"d{(int(q.qid[1:]) + k) % 8}", 10.0 - k)
                       for k in ((0, 2, 1, 3, 4) if int(q.qid[1:]) % 2 else (0, 1, 2, 3, 4))]
               for q in QUERIES}


def _knows(relevant: bool, queries: range = range(4)):
    """A scorer that puts each query's relevant passage first (or, when not, last); for a
    query not in `queries` it scores every passage the same (it adds nothing)."""
    def score(query: str, texts: list[str]) -> list[float]:
        n = int(query.split()[1])
        wanted = f"passage {n + 1}"
        if n not in queries:
            return [1.0] * len(texts)
        return [(5.0 if t == wanted else 1.0) * (1 if relevant else -1) for t in texts]
    return score


def test_blend_mixes_normalised_scores_whatever_their_scales() -> None:
    fused, reranked = [0.03, 0.02, 0.01], [-4.0, 9.0, 2.0]
    assert blend(fused, reranked, 1.0) == reranked
    assert blend(fused, reranked, 0.0) == pytest.approx([1.0, 0.5, 0.0])
    assert blend([f * 1000 for f in fused], [r * 7 for r in reranked], 0.5) == \
        pytest.approx(blend(fused, reranked, 0.5))
    assert blend([1.0, 1.0], [2.0, 1.0], 0.5) == [0.5, 0.0]  # a flat list adds nothing


def test_held_out_queries_choose_no_weight_for_a_reranker_that_gets_them_wrong() -> None:
    chosen = choose_blend(QUERIES, FIRST_STAGE, PASSAGES, _knows(relevant=False))
    assert chosen["weight"] == 0.0 and chosen["queries"] == 4
    assert chosen["ndcg@10"]["0"] > chosen["ndcg@10"]["1"]


def test_held_out_queries_give_a_reranker_that_gets_them_right_its_weight() -> None:
    chosen = choose_blend(QUERIES, FIRST_STAGE, PASSAGES, _knows(relevant=True))
    assert chosen["weight"] > 0
    assert chosen["ndcg@10"][f"{chosen['weight']:g}"] == 1.0 > chosen["ndcg@10"]["0"]
    assert chosen["p_value"] < 0.05


def test_a_gain_held_out_queries_could_show_by_chance_gets_no_weight() -> None:
    chosen = choose_blend(QUERIES, FIRST_STAGE, PASSAGES, _knows(relevant=True,
                                                                 queries=range(1)))
    assert chosen["best_tried"] > 0 and chosen["ndcg@10"]["1"] > chosen["ndcg@10"]["0"]
    assert chosen["p_value"] >= 0.05 and chosen["weight"] == 0.0  # one query of four


def test_a_consistent_gain_on_few_queries_is_kept_by_the_one_sided_test() -> None:
    # 20 queries, each with its relevant document second; the reranker puts it first for the
    # first three (or two) of them: three of twenty is significant one-sided (t 1.83, p 0.04),
    # two is not (t 1.45, p 0.08); two-sided, neither would be
    queries = [TrainingQuery(f"q{n}", f"query {n}", (f"d{n + 1}",), (f"passage {n + 1}",))
               for n in range(20)]
    first = {q.qid: [(f"d{(int(q.qid[1:]) + k) % 21}", 10.0 - k) for k in range(5)]
             for q in queries}
    passages = {f"d{n}": f"passage {n}" for n in range(21)}
    three = choose_blend(queries, first, passages, _knows(relevant=True, queries=range(3)))
    two = choose_blend(queries, first, passages, _knows(relevant=True, queries=range(2)))
    assert 0.025 < three["p_value"] < 0.05 and three["weight"] == three["best_tried"] > 0
    assert 0.05 < two["p_value"] < 0.1 and two["weight"] == 0.0 < two["best_tried"]


class Reversed:
    """A reranker model that scores later hits higher (it disagrees with the fused order)."""

    def predict(self, pairs, batch_size):
        return [float(text[1:]) for _, text in pairs]


def _hits(scores: list[float]) -> list[Hit]:
    return [Hit(chunk_id=f"c{n}", doc_id=f"d{n}", score=s, text=f"t{n}")
            for n, s in enumerate(scores)]


def test_the_recorded_weight_decides_how_far_the_reranker_moves_the_fused_order(
        tmp_path: Path) -> None:
    fused = _hits([1.0, 0.9, 0.2, 0.1])
    alone = CrossEncoderReranker(Reversed(), batch_size=2).rerank("q", fused)
    assert [h.chunk_id for h in alone] == ["c3", "c2", "c1", "c0"]
    guarded = CrossEncoderReranker(Reversed(), weight=0.4).rerank("q", fused)
    # 0.4 × the reranker + 0.6 × fused (each min-max): the two far ahead in fusion stay ahead
    assert [h.chunk_id for h in guarded] == ["c1", "c0", "c3", "c2"]
    assert guarded[0].rerank_score == guarded[0].score == pytest.approx(0.4 / 3 + 0.6 * 0.8 / 0.9)

    folder = tmp_path / "reranker-v1"
    folder.mkdir()
    (folder / "es-rag-model.json").write_text(json.dumps(
        {"kind": "reranker", "metrics": {"blend": {"weight": 0.25}}}))
    assert blend_weight(folder) == 0.25
    assert CrossEncoderReranker(folder).weight == 0.25
    assert blend_weight(tmp_path) == 1.0  # any other model: the reranker alone
