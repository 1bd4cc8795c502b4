"""Fine-tune the embedding model: MultipleNegativesRankingLoss over (query, relevant passage,
negatives mined or, for pseudo-queries, random), the other rows of a batch serving as further
negatives; early stopping on the held-out training queries; the result saved with its manifest
and its ONNX int8 export.

```
data = from_dataset(Path("../shared/datasets/scifact"))           # qrels/train.tsv only
pools = candidate_pools(client, caps, index, embedder, data.queries)
manifest = train_embeddings(data, pools, "all-MiniLM-L6-v2", Path(".es-rag/models/embeddings-v1"))
```
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from es_rag.embedding.local import model_location
from es_rag.finetune.data import TrainingData
from es_rag.finetune.held_out import STOP_METRIC, bi_encoder_scorer, held_out_metrics
from es_rag.finetune.manifest import ModelManifest, record_trained
from es_rag.finetune.training import (
    Example,
    Progress,
    TrainingParams,
    batches,
    fit,
    held_out_of,
    keep_layers,
    prepare,
)

EMBEDDING_PARAMS = TrainingParams(learning_rate=1e-4, batch_size=32, max_seq_length=128,
                                  epochs=3)
"""Measured on SciFact (bench/finetune_quality.py, test queries): 1e-4 for three epochs took
hybrid nDCG@10 from 0.727 to 0.775 where 2e-5 for one epoch reached 0.728; 128 training tokens
halve a step's cost (the model serves at its own length, 256 for MiniLM)."""
UNSUPERVISED_PARAMS = replace(EMBEDDING_PARAMS, learning_rate=2e-5, epochs=1,
                              mined_negatives=False)
"""Pseudo-queries are not the queries users ask: trained on them at 1e-4 for three epochs, hybrid
fell from 0.727 to 0.716 on SciFact; at 2e-5 for one epoch it held (0.728), but kNN lost 0.006
(0.657 → 0.651) with negatives mined from BM25 and kNN. With random negatives instead, kNN
holds (0.658) and hybrid gains (0.738)."""


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

    transformers_logging.disable_progress_bar()
    params = params or EMBEDDING_PARAMS
    started = time.perf_counter()
    run = prepare(data, pools, params)
    location = model_location(base_model)
    model = SentenceTransformer(location, device="cpu", local_files_only=True)
    keep_layers(model[0].auto_model, params.layers)
    serving_length = model.max_seq_length  # saved back: training may read shorter texts
    model.max_seq_length = min(params.max_seq_length, serving_length)
    model.eval()

    def evaluate() -> dict[str, float]:
        return held_out_metrics(run.held, pools, data.passages, bi_encoder_scorer(model))

    before = evaluate()
    loss_fn = MultipleNegativesRankingLoss(model)

    def loss_of(batch: list[Example]) -> torch.Tensor:
        columns = [[r.query for r in batch], [r.positive for r in batch],
                   *([r.negatives[i] for r in batch] for i in range(params.negatives))]
        return loss_fn([model.preprocess(column) for column in columns], torch.empty(0))

    steps, stopping = fit(model, params, lambda: batches(run.rows, params.batch_size, run.rng),
                          loss_of, lambda: evaluate()[STOP_METRIC], before[STOP_METRIC],
                          progress)
    model.max_seq_length = serving_length
    after = evaluate()
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    return record_trained(
        output, kind="embeddings", version=version, base_model=base_model,
        base_location=location,
        data={**data.summary(), "held_out_queries": len(run.held),
              "training_examples": len(run.rows)},
        parameters=params.as_dict(),
        metrics={"held_out": {"before": before, "after": after},
                 "epochs": stopping.history, "best_epoch": stopping.best_epoch,
                 "steps": steps, "improved": stopping.best_epoch > 0},
        started=started)


def export_int8(output: Path, manifest: ModelManifest, data: TrainingData,
                pools: Mapping[str, Sequence[str]]) -> ModelManifest:
    """Export the fine-tuned model to ONNX int8 (beside it, in `onnx/`) and record the held-out
    metrics of the int8 model in the manifest, so its quality loss is known."""
    from es_rag.embedding.onnx_model import OnnxEmbedder

    onnx = OnnxEmbedder(str(output), fallback_root=output.parent, quantized=True)  # in onnx/

    def score(query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        q = onnx.embed_query(query)
        return [sum(a * b for a, b in zip(q, p, strict=True))
                for p in onnx.embed_documents(list(texts))]
    manifest.metrics["held_out"]["after_onnx_int8"] = held_out_metrics(
        held_out_of(data, TrainingParams.recorded(manifest.parameters)), pools, data.passages,
        score)
    manifest.write(output)
    return manifest
