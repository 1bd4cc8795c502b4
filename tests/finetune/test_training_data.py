"""What fine-tuning learns from: training judgments only, pseudo-queries from the corpus, honest
held-out queries, batches without in-batch duplicates, versioned model folders."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

from es_rag.errors import EsRagError
from es_rag.finetune.data import (
    TrainingData,
    TrainingDataError,
    TrainingQuery,
    from_dataset,
    pseudo_queries,
    split_held_out,
)
from es_rag.finetune.embeddings import UNSUPERVISED_PARAMS
from es_rag.finetune.manifest import ModelManifest, model_checksum, next_version, read_manifest
from es_rag.finetune.mining import hard_negatives
from es_rag.finetune.training import (
    PACE_STEPS,
    Plan,
    TrainingParams,
    batches,
    examples,
    keep_layers,
    prepare,
)
from finetune.scifact_sample import write_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("data") / "scifact-sample")


def test_poisoned_test_judgments_change_nothing_fine_tuning_reads(sample: Path,
                                                                   tmp_path: Path) -> None:
    poisoned = tmp_path / "scifact-sample"
    shutil.copytree(sample, poisoned)
    corpus_ids = [line.split('"')[3] for line in (poisoned / "corpus.jsonl").open()]
    queries = [line.split('"')[3] for line in (poisoned / "queries.jsonl").open()]
    # every query now "relevant" to every document, in the test split only
    (poisoned / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t2\n" for q in queries for d in corpus_ids))
    clean, dirty = from_dataset(sample), from_dataset(poisoned)
    assert dirty.queries == clean.queries
    assert dirty.passages == clean.passages
    assert dirty.fingerprint == clean.fingerprint
    (poisoned / "qrels" / "train.tsv").write_text(
        (sample / "qrels" / "train.tsv").read_text().replace("\t1\n", "\t0\n", 1))
    assert from_dataset(poisoned).fingerprint != clean.fingerprint  # train judgments count


def test_pseudo_queries_come_from_titles_headings_and_removed_sentences() -> None:
    text = ("Vitamin D regulates calcium uptake in the gut. Deficiency leads to weaker bones "
            "in older adults. Supplements restore normal levels within a few months.")
    found = pseudo_queries([("d1", "Vitamin D and bones", ["Calcium uptake"], text)],
                           max_queries=10)
    by_kind = {q.qid.split(":")[1]: q for q in found}
    assert by_kind["title0"].text == "Vitamin D and bones"
    assert by_kind["title1"].text == "Calcium uptake"
    cloze = by_kind["cloze"]
    assert cloze.text in text and cloze.text not in cloze.positive_texts[0]
    assert all(q.positives == ("d1",) for q in found)


def test_held_out_queries_are_fixed_by_the_seed_and_never_trained_on() -> None:
    queries = [TrainingQuery(f"q{n}", f"query {n}", (f"d{n}",), (f"text {n}",))
               for n in range(20)]
    train, held = split_held_out(queries, 0.1, seed=13)
    assert len(held) == 2 and not {q.qid for q in held} & {q.qid for q in train}
    assert split_held_out(list(reversed(queries)), 0.1, seed=13)[1] == held
    with pytest.raises(TrainingDataError, match="at least 2"):
        split_held_out(queries[:1], 0.1, seed=13)


def test_negatives_are_never_relevant_and_batches_hold_each_document_once() -> None:
    queries = [TrainingQuery("q1", "first", ("a",), ("A",)),
               TrainingQuery("q2", "second", ("a",), ("A",)),
               TrainingQuery("q3", "third", ("b",), ("B",))]
    passages = {d: d.upper() for d in "abcdefg"}
    pools = {"q1": list("acdefg"), "q2": list("adefgc"), "q3": list("bcdefg")}
    rng = random.Random(1)
    assert all(d not in ("a",) for d in hard_negatives(queries[0], pools["q1"], 3, rng))
    rows = examples(queries, pools, passages, 2, rng)
    assert len(rows) == 3 and all("A" not in r.negatives for r in rows[:2])
    for batch in batches(rows, 8, rng):
        docs = [r.positive_doc for r in batch]
        assert len(docs) == len(set(docs))  # q1 and q2 share "a": never in one batch


def test_pseudo_queries_train_on_random_negatives_not_the_mined_ones() -> None:
    data = TrainingData("unsupervised:sample", [
        TrainingQuery(f"q{n}", f"query {n}", (f"d{n}",), (f"text {n}",)) for n in range(20)],
        {f"d{n}": f"text {n}" for n in range(200)}, "f" * 32)
    pools = {f"q{n}": ["d150", "d151", "d152", "d153"] for n in range(20)}
    mined = prepare(data, pools, TrainingParams(negatives=2)).rows
    assert {t for r in mined for t in r.negatives} <= {f"text {n}" for n in range(150, 154)}
    unsupervised = prepare(data, pools, UNSUPERVISED_PARAMS).rows
    assert len(unsupervised) == len(mined) == 18
    drawn = {t for r in unsupervised for t in r.negatives}
    assert len(drawn - {f"text {n}" for n in range(150, 154)}) > len(drawn) // 2
    assert all(f"text {r.positive_doc[1:]}" not in r.negatives for r in unsupervised)


def test_model_folders_are_versioned_and_checksummed_without_their_onnx_export(
        tmp_path: Path) -> None:
    assert next_version(tmp_path, "embeddings") == (1, tmp_path / "embeddings-v1")
    folder = tmp_path / "embeddings-v1"
    (folder / "onnx").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    checksum = model_checksum(folder)
    (folder / "onnx" / "model-int8.onnx").write_bytes(b"export")
    assert model_checksum(folder) == checksum
    ModelManifest("embeddings", 1, "all-MiniLM-L6-v2", "x", {}, {}, checksum=checksum
                  ).write(folder)
    assert read_manifest(folder).checksum == checksum
    (tmp_path / "reranker-v4").mkdir()
    assert next_version(tmp_path, "embeddings")[0] == 2
    assert next_version(tmp_path, "reranker")[0] == 5


def test_the_teams_judgments_and_pseudo_queries_read_the_live_index(
        engine: object, tmp_path: Path) -> None:
    from elasticsearch import Elasticsearch
    from retrieve.corpus import index_corpus

    from es_rag.finetune.data import from_judgments, unsupervised_from_index

    client = Elasticsearch(engine.url, request_timeout=60)  # type: ignore[attr-defined]
    index_corpus(client, "finetune-live")
    try:
        qrels = tmp_path / "team.qrels"
        qrels.write_text("q1 0 storage 1\nq2 0 power 2\nq3 0 bread 0\n")
        (tmp_path / "team-queries.jsonl").write_text(
            '{"_id": "q1", "text": "disk quota error"}\n'
            '{"_id": "q2", "text": "battery life"}\n{"_id": "q3", "text": "sourdough"}\n')
        data = from_judgments(qrels, client, "finetune-live")
        assert [(q.qid, q.positives) for q in data.queries] == [("q1", ("storage",)),
                                                                ("q2", ("power",))]
        assert data.passages["storage"].startswith("Storage quotas\nQuota error ERR_4711")
        pseudo = unsupervised_from_index(client, "finetune-live", max_queries=100)
        assert any(q.text == "Storage quotas" and q.positives == ("storage",)
                   for q in pseudo.queries)
    finally:
        client.indices.delete(index="finetune-live")
        client.close()


def test_a_time_budget_plans_the_steps_from_the_pace_of_the_first_ones() -> None:
    unlimited = Plan(1000)
    unlimited.step_done(PACE_STEPS)
    assert unlimited.steps == 1000
    budget = Plan(1000, max_minutes=1 / 60)  # one second
    budget.started = time.perf_counter() - 0.03 * PACE_STEPS  # 30 ms a step so far
    budget.step_done(PACE_STEPS)
    assert 25 <= budget.steps <= 34  # what fits in the second
    budget.started -= 0.5  # then the machine gets busy: fewer steps fit
    budget.step_done(PACE_STEPS + 1)
    assert PACE_STEPS + 1 <= budget.steps < 25
    slow = Plan(1000, max_minutes=1 / 60)
    slow.started = time.perf_counter() - 2.0 * PACE_STEPS
    slow.step_done(PACE_STEPS)
    assert slow.steps == PACE_STEPS  # over budget already: stop now, keep what was learnt


def test_a_smaller_model_keeps_the_first_layers_and_refuses_more_than_there_are() -> None:
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    config = dict(hidden_size=16, num_attention_heads=2, intermediate_size=32, vocab_size=50)
    bare = BertModel(BertConfig(num_hidden_layers=6, **config))
    first = bare.encoder.layer[0]
    keep_layers(bare, 2)
    assert len(bare.encoder.layer) == 2 and bare.config.num_hidden_layers == 2
    assert bare.encoder.layer[0] is first
    headed = BertForSequenceClassification(BertConfig(num_hidden_layers=6, num_labels=1,
                                                      **config))
    keep_layers(headed, 3)
    assert len(headed.bert.encoder.layer) == 3 and headed.config.num_hidden_layers == 3
    keep_layers(headed, None)
    assert len(headed.bert.encoder.layer) == 3
    with pytest.raises(EsRagError, match="layers 4: the base model has only 3"):
        keep_layers(headed, 4)
    from transformers import DistilBertConfig, DistilBertModel

    other = DistilBertModel(DistilBertConfig(dim=16, n_heads=2, hidden_dim=32, vocab_size=50))
    with pytest.raises(EsRagError, match="only BERT-style encoders .* not distilbert"):
        keep_layers(other, 2)
