"""Train a cross-encoder reranker: the packaged MiniLM weights under a fresh one-logit head,
trained with binary cross-entropy on (query, relevant passage) against (query, hard negative)
pairs; early stopping on the held-out training queries. The folder it writes is what
`retrieval.json`'s `rerank.model` names for `hybrid+rerank` (`CrossEncoderReranker`);
`export_reranker_int8` exports it to ONNX int8 beside it, for `rerank.backend = "onnx-int8"`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from es_rag.embedding.local import model_location
from es_rag.finetune.data import TrainingData, TrainingDataError, split_held_out
from es_rag.finetune.held_out import (
    STOP_METRIC,
    PairScorer,
    bi_encoder_scorer,
    held_out_metrics,
)
from es_rag.finetune.manifest import ModelManifest, model_checksum
from es_rag.finetune.training import (
    EarlyStopping,
    Example,
    Progress,
    TrainingParams,
    examples,
    total_steps,
    warmup_schedule,
)

RERANKER_PARAMS = TrainingParams(negatives=3, learning_rate=5e-5)


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


def _pairs(rows: Sequence[Example]) -> list[tuple[str, str, float]]:
    return [pair for r in rows
            for pair in [(r.query, r.positive, 1.0), *((r.query, n, 0.0) for n in r.negatives)]]


def train_reranker(data: TrainingData, pools: Mapping[str, Sequence[str]], base_model: str,
                   output: Path, *, version: int = 1, params: TrainingParams | None = None,
                   progress: Progress | None = None) -> ModelManifest:
    """Train a cross-encoder from `base_model`'s weights; save it with its manifest. The
    "before" metrics are the base model's embedding similarity (the reranker it replaces)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()  # the new head is reported as untrained: it is
    params = params or RERANKER_PARAMS
    started = time.perf_counter()
    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)
    train, held = split_held_out(data.queries, params.held_out, params.seed)
    rows = examples(train, pools, data.passages, params.negatives, rng)
    if not rows:
        raise TrainingDataError(f"{data.source}: no training pair could be built (every "
                                "query lacks a negative passage)")
    location = model_location(base_model)
    bi_encoder = SentenceTransformer(location, device="cpu", local_files_only=True)
    before = held_out_metrics(held, pools, data.passages, bi_encoder_scorer(bi_encoder))
    del bi_encoder
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=1,
                                                               local_files_only=True)
    scorer = cross_encoder_scorer(model, tokenizer, params.max_seq_length)
    pairs = _pairs(rows)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    steps = total_steps(len(pairs), params)
    schedule = warmup_schedule(optimizer, steps, params.warmup)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    stopping = EarlyStopping(model, -1.0, params.patience)
    step = 0
    for epoch in range(1, params.epochs + 1):
        model.train()
        rng.shuffle(pairs)
        for start in range(0, len(pairs), params.batch_size):
            if step >= steps:
                break
            batch = pairs[start:start + params.batch_size]
            enc = tokenizer([q for q, _, _ in batch], [p for _, p, _ in batch], padding=True,
                            truncation=True, max_length=params.max_seq_length,
                            return_tensors="pt")
            logits = model(**enc).logits[:, 0]
            loss = loss_fn(logits, torch.tensor([label for _, _, label in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if progress:
                progress("train", step, steps)
        model.eval()
        score = held_out_metrics(held, pools, data.passages, scorer)[STOP_METRIC]
        if stopping.epoch_done(epoch, score) or step >= steps:
            break
    stopping.restore()
    model.eval()
    after = held_out_metrics(held, pools, data.passages, scorer)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output))
    tokenizer.save_pretrained(str(output))
    manifest = ModelManifest(
        kind="reranker", version=version, base_model=base_model,
        base_checksum=model_checksum(Path(location)),
        data={**data.summary(), "held_out_queries": len(held), "training_pairs": len(pairs)},
        parameters=params.as_dict(),
        metrics={"held_out": {"before": before, "after": after,
                              "before_is": "base model embedding similarity"},
                 "epochs": stopping.history, "best_epoch": stopping.best_epoch,
                 "steps": step},
        checksum=model_checksum(output),
        training_seconds=round(time.perf_counter() - started, 1),
        created=datetime.now(UTC).isoformat(timespec="seconds"))
    manifest.write(output)
    return manifest


def export_reranker_int8(output: Path, manifest: ModelManifest, data: TrainingData,
                         pools: Mapping[str, Sequence[str]]) -> ModelManifest:
    """Export the trained cross-encoder to ONNX int8 (beside it, in `onnx/`), so the first
    search that reranks does not export it, and record the held-out metrics of the int8 model
    in the manifest, so its quality loss is known."""
    from es_rag.retrieve.rerank_onnx import OnnxCrossEncoder

    params = TrainingParams(**manifest.parameters)
    onnx = OnnxCrossEncoder(output, quantized=True, max_length=params.max_seq_length,
                            fallback_root=output.parent)
    _, held = split_held_out(data.queries, params.held_out, params.seed)
    manifest.metrics["held_out"]["after_onnx_int8"] = held_out_metrics(
        held, pools, data.passages, lambda query, texts: onnx.predict(
            [(query, text) for text in texts], batch_size=32))
    manifest.write(output)
    return manifest
