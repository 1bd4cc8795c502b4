"""Fine-tune the embedding model: MultipleNegativesRankingLoss over (query, relevant passage,
hard negatives), the other rows of a batch serving as further negatives; early stopping on the
held-out training queries; the result saved with its manifest and its ONNX int8 export.

```
data = from_dataset(Path("../shared/datasets/scifact"))           # qrels/train.tsv only
pools = candidate_pools(client, caps, index, embedder, data.queries)
manifest = train_embeddings(data, pools, "all-MiniLM-L6-v2", Path(".es-rag/models/embeddings-v1"))
```
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from es_rag.embedding.local import model_location
from es_rag.finetune.data import TrainingData
from es_rag.finetune.held_out import STOP_METRIC, bi_encoder_scorer, held_out_metrics
from es_rag.finetune.manifest import ModelManifest, model_checksum
from es_rag.finetune.training import (
    EarlyStopping,
    Progress,
    TrainingParams,
    batches,
    examples,
    total_steps,
    warmup_schedule,
)


def train_embeddings(data: TrainingData, pools: Mapping[str, Sequence[str]], base_model: str,
                     output: Path, *, version: int = 1, params: TrainingParams | None = None,
                     progress: Progress | None = None) -> ModelManifest:
    """Train from `base_model`, keep the epoch best on the held-out queries, save to `output`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )
    from transformers.utils import logging as transformers_logging

    from es_rag.finetune.data import split_held_out

    transformers_logging.disable_progress_bar()
    params = params or TrainingParams()
    started = time.perf_counter()
    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)
    train, held = split_held_out(data.queries, params.held_out, params.seed)
    rows = examples(train, pools, data.passages, params.negatives, rng)
    if not rows:
        from es_rag.finetune.data import TrainingDataError

        raise TrainingDataError(f"{data.source}: no training example could be built (every "
                                "query lacks a negative passage)")
    location = model_location(base_model)
    model = SentenceTransformer(location, device="cpu", local_files_only=True)
    serving_length = model.max_seq_length  # saved back: training may read shorter texts
    model.max_seq_length = min(params.max_seq_length, serving_length)
    model.eval()
    before = held_out_metrics(held, pools, data.passages, bi_encoder_scorer(model))
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    steps = total_steps(len(rows), params)
    schedule = warmup_schedule(optimizer, steps, params.warmup)
    stopping = EarlyStopping(model, before[STOP_METRIC], params.patience)
    step = 0
    for epoch in range(1, params.epochs + 1):
        model.train()
        for batch in batches(rows, params.batch_size, rng):
            if step >= steps:
                break
            columns = [[r.query for r in batch], [r.positive for r in batch],
                       *([r.negatives[i] for r in batch] for i in range(params.negatives))]
            features = [model.preprocess(column) for column in columns]
            loss = loss_fn(features, torch.empty(0))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if progress:
                progress("train", step, steps)
        model.eval()
        score = held_out_metrics(held, pools, data.passages,
                                 bi_encoder_scorer(model))[STOP_METRIC]
        if stopping.epoch_done(epoch, score) or step >= steps:
            break
    stopping.restore()
    model.max_seq_length = serving_length
    after = held_out_metrics(held, pools, data.passages, bi_encoder_scorer(model))
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    manifest = ModelManifest(
        kind="embeddings", version=version, base_model=base_model,
        base_checksum=model_checksum(Path(location)),
        data={**data.summary(), "held_out_queries": len(held), "training_examples": len(rows)},
        parameters=params.as_dict(),
        metrics={"held_out": {"before": before, "after": after},
                 "epochs": stopping.history, "best_epoch": stopping.best_epoch,
                 "steps": step, "improved": stopping.best_epoch > 0},
        checksum=model_checksum(output),
        training_seconds=round(time.perf_counter() - started, 1),
        created=datetime.now(UTC).isoformat(timespec="seconds"))
    manifest.write(output)
    return manifest


def export_int8(output: Path, manifest: ModelManifest, data: TrainingData,
                pools: Mapping[str, Sequence[str]]) -> ModelManifest:
    """Export the fine-tuned model to ONNX int8 (beside it, in `onnx/`) and record the held-out
    metrics of the int8 model in the manifest, so its quality loss is known."""
    from es_rag.embedding.onnx_model import OnnxEmbedder
    from es_rag.finetune.data import split_held_out

    onnx = OnnxEmbedder(str(output), fallback_root=output.parent, quantized=True)  # in onnx/
    params = TrainingParams(**manifest.parameters)
    _, held = split_held_out(data.queries, params.held_out, params.seed)

    def score(query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        q = onnx.embed_query(query)
        return [sum(a * b for a, b in zip(q, p, strict=True))
                for p in onnx.embed_documents(list(texts))]
    manifest.metrics["held_out"]["after_onnx_int8"] = held_out_metrics(
        held, pools, data.passages, score)
    manifest.write(output)
    return manifest
