"""Hybrid fusion kinds on SciFact: RRF, weighted RRF, linear/minmax and linear/l2_norm, each at
its best parameters found on the train queries, scored on the held-out test queries.

Usage: python bench/fusion_kinds.py [--dataset DIR] [--data DIR] [--url URL] [--json]

Each kind is tuned with `es_rag.evaluate.tuning.tune` (the library behind `es-rag tune`) over
its own grid; test judgments are read only for the final scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ingest_bench import DEFAULT_DATASET, cluster, progress

from es_rag.evaluate.tuning import HybridSetting, TuneGrid, tune
from es_rag.ingest import Embedder

FIXED = {"rank_window_size": (100,), "num_candidates": (100,), "title_boost": (1.0,),
         "headings_boost": (1.0,)}
KINDS: dict[str, dict[str, Any]] = {
    "rrf": {"rank_constant": (10, 20, 40, 60, 100)},
    "weighted rrf": {"rank_constant": (20, 60), "knn_weight": (0.5, 0.75, 1.5, 2.0)},
    "linear/minmax": {"fusion": ("linear",), "normalizer": ("minmax",),
                      "knn_weight": (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)},
    "linear/l2_norm": {"fusion": ("linear",), "normalizer": ("l2_norm",),
                       "knn_weight": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)},
}
DEFAULT_DATA = Path("/tmp/es-rag-bench-fusion")


def run(args: argparse.Namespace) -> dict[str, Any]:
    embedder = Embedder()
    rows: dict[str, Any] = {}
    with cluster(args.url, args.data, fresh=False) as (client, caps):
        progress(f"cluster {caps.version}, license {caps.license_type}: rrf path "
                 f"{caps.fusion_path('rrf', True)}, linear path {caps.fusion_path('linear')}")
        for kind, axes in KINDS.items():
            grid = TuneGrid(**{**FIXED, **axes})
            first = grid.settings()[0]
            current = HybridSetting(**{**first.__dict__, "rank_constant": 60,
                                       "knn_weight": 1.0})
            progress(f"{kind}: {grid.points} settings on the train queries")
            result = tune(client, caps, args.dataset, embedder=embedder, grid=grid,
                          budget=grid.points + 1, current=current)
            tuned = result.test_metrics["tuned"]
            rows[kind] = {"best": result.best.label,
                          "train_ndcg@10": round(result.trials[result.best], 4),
                          "test_ndcg@10": round(tuned["ndcg@10"], 4),
                          "test_recall@100": round(tuned["recall@100"], 4),
                          "seconds": round(result.seconds, 1)}
            progress(f"{kind}: {rows[kind]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="engine data folder (kept between runs: the index is reused)")
    parser.add_argument("--url", help="an Elasticsearch URL instead of the embedded engine")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rows = run(args)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'fusion':16} {'test nDCG@10':>12} {'test R@100':>10} {'train nDCG@10':>13}  best")
    for kind, row in rows.items():
        print(f"{kind:16} {row['test_ndcg@10']:12.4f} {row['test_recall@100']:10.4f} "
              f"{row['train_ndcg@10']:13.4f}  {row['best']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
