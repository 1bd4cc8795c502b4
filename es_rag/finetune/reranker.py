"""Train a cross-encoder reranker: the packaged MiniLM weights under a fresh one-logit head,
trained listwise — a softmax over each query's relevant passage and its hard negatives — with
early stopping on the held-out training queries. The weight that blends its score with the
first-stage (fused) score is chosen on the same held-out queries, kept only when its gain there
is significant, and recorded in the manifest: a weak reranker gets weight 0. The folder it writes
is what `retrieval.json`'s `rerank.model` names for `hybrid+rerank` (`CrossEncoderReranker`);
`export_reranker_int8` exports it to ONNX int8 beside it, for `rerank.backend = "onnx-int8"`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from es_rag.embedding.local import model_location
from es_rag.evaluate.metrics import compare_rankings, score_ranking
from es_rag.finetune.data import TrainingData, TrainingQuery
from es_rag.finetune.held_out import (
    STOP_METRIC,
    PairScorer,
    bi_encoder_scorer,
    held_out_metrics,
)
from es_rag.finetune.manifest import ModelManifest, record_trained
from es_rag.finetune.training import (
    Example,
    Progress,
    TrainingParams,
    fit,
    held_out_of,
    keep_layers,
    prepare,
)
from es_rag.retrieve.rerank import blend

RERANKER_PARAMS = TrainingParams(negatives=3, batch_size=8, learning_rate=1e-4, epochs=4,
                                 max_seq_length=128)
"""Each step scores batch_size × (1 + negatives) pairs. Measured on SciFact (bench/): at lr 1e-4
the reranker learns in two epochs what 3e-5 did not in three, and eight queries with three
negatives each beat four with seven at the same cost per step. 128 tokens: served at the
length it was trained at, a 6-layer MiniLM reranks the top 50 in 0.24 s (int8, 2 cores; 0.55 s
at 256)."""
FirstStage = Mapping[str, Sequence[tuple[str, float]]]
"""query id → (document id, fused score), best first: what the reranker re-orders."""
BLEND_DEPTH = 50  # first-stage documents re-ranked per held-out query (the serving top_n)
WEIGHTS = tuple(w / 20 for w in range(21))  # reranker weights tried: 0, 0.05, ..., 1
MAX_P = 0.05  # a blend is kept when its held-out gain is significant at this level


def cross_encoder_scorer(model: Any, tokenizer: Any, max_length: int,
                         batch_size: int = 32) -> PairScorer:
    """The logit of a sequence-classification model for each (query, passage) pair."""
    import torch

    def score(query: str, texts: Sequence[str]) -> list[float]:
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                part = list(texts[start:start + batch_size])
                enc = tokenizer([query] * len(part), part, padding=True, truncation=True,
                                max_length=max_length, return_tensors="pt")
                scores.extend(model(**enc).logits[:, 0].tolist())
        return scores
    return score


def _group_batches(rows: Sequence[Example], size: int, rng: Any) -> list[list[Example]]:
    order = list(rows)
    rng.shuffle(order)
    return [order[i:i + size] for i in range(0, len(order), size)]


def choose_blend(queries: Sequence[TrainingQuery], first_stage: FirstStage,
                 passages: Mapping[str, str], scorer: PairScorer,
                 depth: int = BLEND_DEPTH) -> dict[str, Any]:
    """The reranker weight (0 = first stage only, 1 = reranker only) with the best nDCG@10
    when the reranker re-orders each held-out query's first-stage documents; ties go to the
    smaller weight. The weight is kept only when the blend is significantly better than the
    first stage alone (one-sided paired t-test, p < 0.05): a gain that small held-out sets
    show by chance would cost as often as it pays on other queries. Returns the weight, the
    best weight tried, the test's p-value and the nDCG@10 of each weight tried."""
    lists: dict[str, tuple[list[str], list[float], list[float]]] = {}
    for query in queries:
        ranked = [(d, s) for d, s in first_stage.get(query.qid, ())[:depth]
                  if d in passages]
        if ranked:
            docs = [d for d, _ in ranked]
            lists[query.qid] = (docs, [s for _, s in ranked],
                                [float(x) for x in scorer(query.text,
                                                          [passages[d] for d in docs])])
    qrels = {q.qid: dict.fromkeys(q.positives, 1) for q in queries if q.qid in lists}
    if not qrels:
        return {"weight": 1.0, "queries": 0, "ndcg@10": {}}

    def rankings(weight: float) -> dict[str, list[str]]:
        ranked = {}
        for qid, (docs, fused, reranked) in lists.items():
            scores = blend(fused, reranked, weight)
            ranked[qid] = [docs[i] for i in sorted(range(len(docs)), key=lambda i: -scores[i])]
        return ranked
    by_weight = {weight: rankings(weight) for weight in WEIGHTS}
    grid = {f"{weight:g}": round(float(score_ranking(qrels, ranked,
                                                     ("ndcg@10",)).means["ndcg@10"]), 4)
            for weight, ranked in by_weight.items()}
    best = max(WEIGHTS, key=lambda w: (grid[f"{w:g}"], -w))
    # one-sided: the best weight > 0 scores above the first stage, and only a gain is kept;
    # so p is half the two-sided p ranx reports
    p_value = compare_rankings(qrels, ("first stage", by_weight[0.0]),
                               ("blended", by_weight[best])).p_value / 2 if best > 0 else 1.0
    return {"weight": best if p_value < MAX_P else 0.0, "best_tried": best,
            "p_value": round(p_value, 4), "queries": len(qrels), "ndcg@10": grid}


def train_reranker(data: TrainingData, pools: Mapping[str, Sequence[str]], base_model: str,
                   output: Path, *, version: int = 1, params: TrainingParams | None = None,
                   first_stage: FirstStage | None = None, blend_depth: int = BLEND_DEPTH,
                   progress: Progress | None = None) -> ModelManifest:
    """Train a cross-encoder from `base_model`'s weights; save it with its manifest. The
    "before" metrics are the base model's embedding similarity (the reranker it replaces).
    With `first_stage` (the serving search's ranking of the training queries), the blend
    weight is chosen on the held-out ones; without, the reranker's score is used alone."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()  # the new head is reported as untrained: it is
    params = params or RERANKER_PARAMS
    started = time.perf_counter()
    run = prepare(data, pools, params)
    location = model_location(base_model)
    bi_encoder = SentenceTransformer(location, device="cpu", local_files_only=True)
    before = held_out_metrics(run.held, pools, data.passages, bi_encoder_scorer(bi_encoder))
    del bi_encoder
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=1,
                                                               local_files_only=True)
    keep_layers(model, params.layers)
    scored: dict[tuple[str, str], float] = {}  # scores of the current weights
    model_scorer = cross_encoder_scorer(model, tokenizer, params.max_seq_length)

    def scorer(query: str, texts: Sequence[str]) -> list[float]:
        missing = [t for t in dict.fromkeys(texts) if (query, t) not in scored]
        scored.update(zip(((query, t) for t in missing), model_scorer(query, missing),
                          strict=True))
        return [scored[(query, t)] for t in texts]

    def evaluate() -> float:
        scored.clear()
        return held_out_metrics(run.held, pools, data.passages, scorer)[STOP_METRIC]

    group = 1 + params.negatives

    def loss_of(batch: list[Example]) -> torch.Tensor:
        queries = [r.query for r in batch for _ in range(group)]
        texts = [t for r in batch for t in (r.positive, *r.negatives)]
        enc = tokenizer(queries, texts, padding=True, truncation=True,
                        max_length=params.max_seq_length, return_tensors="pt")
        logits = model(**enc).logits[:, 0].view(len(batch), group)
        return torch.nn.functional.cross_entropy(  # the positive is column 0
            logits, torch.zeros(len(batch), dtype=torch.long))

    steps, stopping = fit(
        model, params, lambda: _group_batches(run.rows, params.batch_size, run.rng), loss_of,
        evaluate, -1.0, progress)
    if stopping.best_epoch != len(stopping.history):  # earlier weights were put back
        scored.clear()
    after = held_out_metrics(run.held, pools, data.passages, scorer)
    blending = choose_blend(run.held, first_stage or {}, data.passages, scorer, blend_depth)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output))
    tokenizer.model_max_length = params.max_seq_length  # what the CrossEncoder truncates to
    tokenizer.save_pretrained(str(output))
    return record_trained(
        output, kind="reranker", version=version, base_model=base_model,
        base_location=location,
        data={**data.summary(), "held_out_queries": len(run.held),
              "training_groups": len(run.rows)},
        parameters={**params.as_dict(), "loss": "listwise softmax"},
        metrics={"held_out": {"before": before, "after": after,
                              "before_is": "base model embedding similarity"},
                 "blend": blending, "epochs": stopping.history,
                 "best_epoch": stopping.best_epoch, "steps": steps},
        started=started)


def export_reranker_int8(output: Path, manifest: ModelManifest, data: TrainingData,
                         pools: Mapping[str, Sequence[str]]) -> ModelManifest:
    """Export the trained cross-encoder to ONNX int8 (beside it, in `onnx/`), so the first
    search that reranks does not export it, and record the held-out metrics of the int8 model
    in the manifest, so its quality loss is known."""
    from es_rag.retrieve.rerank_onnx import OnnxCrossEncoder

    params = TrainingParams.recorded(manifest.parameters)
    onnx = OnnxCrossEncoder(output, quantized=True, max_length=params.max_seq_length,
                            fallback_root=output.parent)
    manifest.metrics["held_out"]["after_onnx_int8"] = held_out_metrics(
        held_out_of(data, params), pools, data.passages, lambda query, texts: onnx.predict(
            [(query, text) for text in texts], batch_size=32))
    manifest.write(output)
    return manifest
