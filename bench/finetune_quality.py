"""Fine-tuning on SciFact: nDCG@10 and Recall@100 of knn, hybrid and hybrid+rerank on the test
queries before and after adapting the models, with supervision from qrels/train.tsv only (or,
with --unsupervised, from pseudo-queries of the corpus); training wall time; rerank latency.

    python bench/finetune_quality.py                 # supervised: embeddings, then reranker
    python bench/finetune_quality.py --unsupervised  # pseudo-queries instead of train qrels
    python bench/finetune_quality.py --skip-reranker --epochs 1 --learning-rate 2e-5
    python bench/finetune_quality.py --reranker DIR  # hybrid+rerank of a reranker trained before

Everything runs offline on CPU from the packaged MiniLM weights. Figures are printed; nothing is
asserted. The engine and the models live under --data (reused: an unchanged corpus index is not
rebuilt).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import cluster  # noqa: E402

from es_rag.config import PROJECT_ROOT, Settings  # noqa: E402
from es_rag.embedding.factory import local_embedder  # noqa: E402
from es_rag.embedding.onnx_model import OnnxEmbedder  # noqa: E402
from es_rag.evaluate import parse_configs, run_evaluation  # noqa: E402
from es_rag.evaluate.configs import EvalConfig  # noqa: E402
from es_rag.evaluate.run import eval_index_name  # noqa: E402
from es_rag.evaluate.subset import Subset  # noqa: E402
from es_rag.finetune import data as training  # noqa: E402
from es_rag.finetune.activate import served_rerank  # noqa: E402
from es_rag.finetune.embeddings import (  # noqa: E402
    EMBEDDING_PARAMS,
    UNSUPERVISED_PARAMS,
    export_int8,
    train_embeddings,
)
from es_rag.finetune.manifest import MANIFEST, ModelManifest, read_manifest  # noqa: E402
from es_rag.finetune.mining import candidate_pools, first_stage  # noqa: E402
from es_rag.finetune.reranker import RERANKER_PARAMS, train_reranker  # noqa: E402
from es_rag.retrieve.params import RerankSettings  # noqa: E402
from es_rag.retrieve.rerank import build_reranker  # noqa: E402

DATASET = PROJECT_ROOT.parent / "shared" / "datasets" / "scifact"
DEFAULT_DATA = Path("/tmp/es-rag-bench-finetune")
BEST_FUSION = "fusion=linear,normalizer=minmax"  # best on SciFact train (bench/fusion_kinds.py)
_STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def stage_progress(stage: str, done: int, total: int | None) -> None:
    if total and (done == total or done % max(1, total // 10) == 0):
        progress(f"{stage}: {done}/{total}")


def figures(report: Any) -> dict[str, dict[str, float]]:
    return {name: {"ndcg@10": round(r.means["ndcg@10"], 4),
                   "recall@100": round(r.means["recall@100"], 4),
                   "p50_ms": round(r.p50_ms, 1)}
            for name, r in report.configs.items()}


def configs(specs: str, hybrid: str) -> list[EvalConfig]:
    """`specs` with the hybrid modes given the `hybrid` parameters, named by their mode."""
    return [replace(c, name=c.name.partition(":")[0]) for c in parse_configs(",".join(
        f"{spec}:{hybrid}" if spec.startswith("hybrid") and hybrid else spec
        for spec in specs.split(",")))]


def with_stored(specs: str, hybrid: str) -> list[EvalConfig]:
    """`configs(specs, hybrid)` and, when `hybrid` overrides it, the stored hybrid too."""
    stored = [replace(parse_configs("hybrid")[0], name="hybrid(stored)")] if hybrid else []
    return [*configs(specs, hybrid), *stored]


def line(label: str, measured: dict[str, dict[str, float]]) -> str:
    return f"{label:28s} " + "  ".join(
        f"{name} {v['ndcg@10']:.4f}/{v['recall@100']:.4f}" for name, v in measured.items())


def evaluate_reranker(client: Any, caps: Any, args: argparse.Namespace, folder: Path,
                      manifest: ModelManifest, tuned: Any, tuned_index: str,
                      result: dict[str, Any]) -> None:
    """hybrid+rerank with the reranker in `folder` (its `manifest`) over the fine-tuned index,
    served as `finetune activate` serves it (ONNX int8, its training length, its recorded blend
    weight), into `result`."""
    served = served_rerank(folder, manifest, RerankSettings(top_n=args.rerank_top,
                                                            time_budget_s=1e9))
    reranker = build_reranker(served, tuned)
    subset = Subset(queries=args.limit_queries, distractors=args.distractors)
    reranked = run_evaluation(client, caps, args.dataset, configs("hybrid+rerank", args.hybrid),
                              embedder=tuned, subset=subset, index=tuned_index,
                              reranker=reranker, progress=stage_progress)
    result.setdefault("after", {}).update(figures(reranked))
    result["reranker_blend_weight"] = reranker.weight
    latencies = reranked.configs["hybrid+rerank"].latency_ms
    result["rerank_p50_ms_top"] = {args.rerank_top: round(statistics.median(latencies))}
    print(line("after + trained reranker", figures(reranked)), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--unsupervised", action="store_true")
    parser.add_argument("--max-queries", type=int, default=2000)
    parser.add_argument("--epochs", type=int, help="embedding training (default: EMBEDDING_PARAMS, "
                        "UNSUPERVISED_PARAMS with --unsupervised)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--max-seq-length", type=int)
    parser.add_argument("--skip-reranker", action="store_true")
    parser.add_argument("--reuse-embeddings", action="store_true",
                        help="load the fine-tuned embeddings under --data if they exist "
                             "instead of training them again")
    parser.add_argument("--hybrid", default=BEST_FUSION,
                        help="parameters of the hybrid configuration (default: the fusion the "
                             "tuner chooses on the train queries, bench/fusion_kinds.py)")
    parser.add_argument("--rerank-top", type=int, default=50)
    parser.add_argument("--rerank-epochs", type=int, default=RERANKER_PARAMS.epochs)
    parser.add_argument("--rerank-seq-length", type=int, default=RERANKER_PARAMS.max_seq_length)
    parser.add_argument("--rerank-max-steps", type=int)
    parser.add_argument("--rerank-layers", type=int, help="a smaller reranker (its first N layers)")
    parser.add_argument("--rerank-learning-rate", type=float,
                        default=RERANKER_PARAMS.learning_rate)
    parser.add_argument("--reranker", type=Path,
                        help="evaluate this trained reranker folder over the fine-tuned index "
                             "(left by an earlier run under --data) instead of training")
    parser.add_argument("--limit-queries", type=int, help="evaluate the first N test queries")
    parser.add_argument("--max-train-queries", type=int,
                        help="train on the first N training queries (a loaded machine)")
    parser.add_argument("--distractors", type=int,
                        help="index only the judged documents and N others (a smaller corpus "
                             "for a loaded machine; figures are then not the full SciFact's)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings(data=args.data)
    base = local_embedder(settings)
    models = args.data / "models" / ("unsupervised" if args.unsupervised else "supervised")
    subset = Subset(queries=args.limit_queries, distractors=args.distractors)
    result: dict[str, Any] = {"load_average_start": round(os.getloadavg()[0], 2),
                              "hybrid": args.hybrid or "retrieval.json"}
    args.data.mkdir(parents=True, exist_ok=True)
    with cluster(None, args.data, fresh=False) as (client, caps):
        if args.reranker is not None:  # evaluate a trained reranker over the tuned index
            tuned = OnnxEmbedder(str(models / "embeddings"), fallback_root=models,
                                 quantized=True)
            tuned_index = f"{eval_index_name(args.dataset, subset)}-" \
                          f"{'unsup' if args.unsupervised else 'sup'}-tuned"
            manifest = read_manifest(args.reranker)
            result["reranker_training_s"] = manifest.training_seconds
            result["reranker_manifest_metrics"] = manifest.metrics
            evaluate_reranker(client, caps, args, args.reranker, manifest, tuned, tuned_index,
                              result)
            print(json.dumps(result, separators=(",", ":")))
            return
        progress("before: knn, hybrid on SciFact test")
        before = run_evaluation(client, caps, args.dataset,
                                with_stored("bm25,knn,hybrid", args.hybrid),
                                embedder=base, subset=subset, progress=stage_progress)
        result["before"] = figures(before)
        print(line("before", result["before"]), flush=True)
        data = (training.unsupervised_from_dataset(args.dataset, max_queries=args.max_queries)
                if args.unsupervised else training.from_dataset(args.dataset))
        if args.max_train_queries:
            data.queries = data.queries[:args.max_train_queries]
        index = eval_index_name(args.dataset, subset)
        pools = candidate_pools(client, caps, index, base, data.queries,
                                progress=stage_progress)
        params = replace(UNSUPERVISED_PARAMS if args.unsupervised else EMBEDDING_PARAMS, **{
            name: getattr(args, name) for name in ("epochs", "batch_size", "learning_rate",
                                                   "max_seq_length")
            if getattr(args, name) is not None})
        started = time.perf_counter()
        if args.reuse_embeddings and (models / "embeddings" / MANIFEST).is_file():
            manifest = read_manifest(models / "embeddings")
            result["embeddings_reused"] = str(models / "embeddings")
        else:
            manifest = train_embeddings(data, pools, settings.embedding_model,
                                        models / "embeddings", params=params,
                                        progress=stage_progress)
            manifest = export_int8(models / "embeddings", manifest, data, pools)
        result["embeddings_training_s"] = manifest.training_seconds
        result["embeddings_manifest_metrics"] = manifest.metrics
        print(f"embeddings trained in {result['embeddings_training_s']} s; held-out "
              f"{json.dumps(manifest.metrics['held_out'])}", flush=True)
        tuned = OnnxEmbedder(str(models / "embeddings"), fallback_root=models, quantized=True)
        tuned_index = f"{index}-{'unsup' if args.unsupervised else 'sup'}-tuned"
        after = run_evaluation(client, caps, args.dataset, with_stored("knn,hybrid", args.hybrid),
                               embedder=tuned, subset=subset, index=tuned_index,
                               progress=stage_progress)
        result["after"] = figures(after)
        print(line("after (fine-tuned, int8)", result["after"]), flush=True)
        if not args.skip_reranker:
            folder = models / "reranker"
            started = time.perf_counter()
            rparams = replace(RERANKER_PARAMS, epochs=args.rerank_epochs,
                              max_seq_length=args.rerank_seq_length,
                              max_steps=args.rerank_max_steps, layers=args.rerank_layers,
                              learning_rate=args.rerank_learning_rate)
            # as `finetune reranker` runs once the fine-tuned model serves: negatives and
            # first stage from the fine-tuned retrieval
            tuned_pools = candidate_pools(client, caps, tuned_index, tuned, data.queries,
                                          progress=stage_progress)
            hybrid = configs("hybrid", args.hybrid)[0].search_params(args.rerank_top)
            ranked = first_stage(client, caps, tuned_index, tuned, data.queries, params=hybrid,
                                 depth=args.rerank_top, progress=stage_progress)
            rmanifest = train_reranker(data, tuned_pools, settings.embedding_model, folder,
                                       params=rparams, first_stage=ranked,
                                       blend_depth=args.rerank_top, progress=stage_progress)
            result["reranker_training_s"] = round(time.perf_counter() - started, 1)
            result["reranker_manifest_metrics"] = rmanifest.metrics
            print(f"reranker trained in {result['reranker_training_s']} s; held-out "
                  f"{json.dumps(rmanifest.metrics['held_out'])}, blend "
                  f"{json.dumps(rmanifest.metrics['blend'])}", flush=True)
            evaluate_reranker(client, caps, args, folder, rmanifest, tuned, tuned_index,
                              result)
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
