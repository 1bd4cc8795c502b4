"""Tune hybrid search on a dataset's train queries, then compare the winner with the current
settings on its held-out test queries, and write the winner into `retrieval.json`.

```
client, caps = connect(load_settings())
current = read_file(settings.assets)                 # retrieval.json
result = tune(client, caps, "../shared/datasets/scifact", embedder=Embedder(), budget=30,
              current=HybridSetting.from_defaults(current))
print(result.to_json())
print(result.diff_for_file(settings.assets))         # review, then:
result.write_file(settings.assets)                   # and `es-rag apply`
```
The search phase sees only the train judgments; the test judgments are read for the final
comparison (and, for a subset, to put the test queries' judged documents into the index).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.assets import file_diff
from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities
from es_rag.embedding.cache import VectorCache
from es_rag.embedding.local import Embedder
from es_rag.errors import EsRagError
from es_rag.evaluate.configs import EvalConfig
from es_rag.evaluate.corpus import Progress, corpus_digest, ensure_corpus_index
from es_rag.evaluate.judgments import Judgments, load_beir
from es_rag.evaluate.metrics import Comparison
from es_rag.evaluate.run import (
    ConfigResult,
    EvaluationReport,
    compare_configs,
    eval_index_name,
    run_configs,
)
from es_rag.evaluate.subset import Subset, select_documents, select_queries
from es_rag.retrieve import defaults as retrieval
from es_rag.retrieve.params import DEFAULT_BOOSTS, MAX_NUM_CANDIDATES, NORMALIZERS
from es_rag.retrieve.queries import CHUNKS, Layout

TRAIN_METRIC = "ndcg@10"
MIN_WINDOW = 10  # nDCG@10 needs ten fused results
MAX_GRID_POINTS = 100_000
CURRENT, TUNED = "current", "tuned"



class TuneError(EsRagError, ValueError):
    """A tuning request cannot run (bad grid, budget or template); the message says why."""


_BOOST_AXES = ("text_boost", "title_boost", "headings_boost")
_WEIGHT_AXES = ("bm25_weight", "knn_weight")
_CHOICE_AXES = {"fusion": ("rrf", "linear"), "normalizer": NORMALIZERS}


def _axis_value(axis: str, raw: Any, what: str = "grid") -> int | float | str:
    """One parameter value, checked: a clear TuneError names the parameter and the value."""
    where = f"{what} {axis}: {raw!r}"
    if axis in _CHOICE_AXES:
        if str(raw).strip().lower() not in _CHOICE_AXES[axis]:
            raise TuneError(f"{where} is not one of {', '.join(_CHOICE_AXES[axis])}")
        return str(raw).strip().lower()
    if isinstance(raw, bool):
        raise TuneError(f"{where} is not a number")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise TuneError(f"{where} is not a number") from None
    if axis in _BOOST_AXES:
        if not math.isfinite(number) or number <= 0:
            raise TuneError(f"{where} must be a positive boost")
        return number
    if axis in _WEIGHT_AXES:
        if not math.isfinite(number) or number < 0:
            raise TuneError(f"{where} must be a non-negative weight")
        return number
    if not number.is_integer():
        raise TuneError(f"{where} must be a whole number")
    lowest = MIN_WINDOW if axis == "rank_window_size" else 1
    if not lowest <= number <= MAX_NUM_CANDIDATES:
        why = " (nDCG@10 needs ten fused results)" if axis == "rank_window_size" else ""
        raise TuneError(f"{where} must be between {lowest} and {MAX_NUM_CANDIDATES}{why}")
    return int(number)


@dataclass(frozen=True)
class HybridSetting:
    """One point of the grid: the fusion, kNN and boost parameters of a hybrid search.

    `num_candidates` is the effective value: the kNN leg fetches `rank_window_size` neighbours
    and never considers fewer candidates than that, so it is raised to at least the window.
    A parameter the fusion ignores takes its default (linear fusion has no rank constant, RRF
    no normalizer), so equivalent settings are one.
    """

    rank_constant: int
    rank_window_size: int
    num_candidates: int
    text_boost: float
    title_boost: float
    headings_boost: float
    fusion: str = "rrf"
    normalizer: str = "minmax"
    bm25_weight: float = 1.0
    knn_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in (f.name for f in fields(self)):
            object.__setattr__(self, name, _axis_value(name, getattr(self, name), "setting"))
        object.__setattr__(self, "num_candidates",
                           max(self.num_candidates, self.rank_window_size))
        ignored = ("rank_constant", 60) if self.fusion == "linear" else ("normalizer", "minmax")
        object.__setattr__(self, *ignored)
        if not self.bm25_weight and not self.knn_weight:
            raise TuneError("setting: at least one leg must have a positive weight")

    @property
    def weights(self) -> dict[str, float]:
        return {"bm25": self.bm25_weight, "knn": self.knn_weight}

    @property
    def boosts(self) -> dict[str, float]:
        return {"text": self.text_boost, "title": self.title_boost,
                "headings": self.headings_boost}

    @property
    def label(self) -> str:
        """`rank_constant=60,rank_window_size=100,num_candidates=200,boosts=text^1,...`."""
        boosts = ",".join(f"{name}^{boost:g}" for name, boost in self.boosts.items())
        fusion = (f"rank_constant={self.rank_constant}" if self.fusion == "rrf"
                  else f"linear={self.normalizer}")
        weights = ("" if self.weights == {"bm25": 1.0, "knn": 1.0}
                   else f",weights=bm25={self.bm25_weight:g}/knn={self.knn_weight:g}")
        return (f"{fusion},rank_window_size={self.rank_window_size},"
                f"num_candidates={self.num_candidates},boosts={boosts}{weights}")

    def config(self, name: str) -> EvalConfig:
        """The hybrid evaluation configuration with these parameters."""
        return EvalConfig(name, "hybrid", {
            "rank_constant": self.rank_constant, "rank_window_size": self.rank_window_size,
            "num_candidates": self.num_candidates, "boosts": self.boosts,
            "fusion": self.fusion, "normalizer": self.normalizer, "weights": self.weights})

    def apply_to(self, defaults: retrieval.RetrievalDefaults) -> retrieval.RetrievalDefaults:
        """`defaults` (retrieval.json) with this setting's fusion, kNN and boosts."""
        params = defaults.params.with_(
            rank_constant=self.rank_constant, rank_window_size=self.rank_window_size,
            num_candidates=max(self.num_candidates, defaults.params.k), boosts=self.boosts,
            fusion=self.fusion, normalizer=self.normalizer, weights=self.weights)
        return replace(defaults, params=params)

    @classmethod
    def from_defaults(cls, defaults: retrieval.RetrievalDefaults) -> HybridSetting:
        """The setting `retrieval.json` (or the stored copy) describes."""
        p = defaults.params
        return cls(p.rank_constant, p.rank_window_size, p.num_candidates,
                   *(p.boosts.get(name, DEFAULT_BOOSTS[name])
                     for name in ("text", "title", "headings")),
                   p.fusion.value, p.normalizer, p.weights["bm25"], p.weights["knn"])


@dataclass(frozen=True)
class TuneGrid:
    """The values tried for each parameter of hybrid search.

    Boosts scale BM25 fields against each other, and RRF only sees ranks, so `text_boost`
    stays 1.0 by default and the other boosts are relative to it. Fusion kinds, normalizers
    and leg weights are axes too (`fusion=rrf,linear`, `normalizer=minmax,l2_norm`,
    `knn_weight=0.5,1,2`); by default only RRF with equal weights is searched.

    >>> TuneGrid(rank_constant=(20, 60), title_boost=(1, 3)).rank_constant
    (20, 60)
    """

    rank_constant: tuple[int, ...] = (10, 20, 40, 60, 100)
    rank_window_size: tuple[int, ...] = (50, 100, 200)
    num_candidates: tuple[int, ...] = (100, 200, 400)
    text_boost: tuple[float, ...] = (1.0,)
    title_boost: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0)
    headings_boost: tuple[float, ...] = (1.0, 1.5)
    fusion: tuple[str, ...] = ("rrf",)
    normalizer: tuple[str, ...] = ("minmax",)
    bm25_weight: tuple[float, ...] = (1.0,)
    knn_weight: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        for axis in (f.name for f in fields(self)):
            raw = getattr(self, axis)
            values = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(values, Iterable):
                values = [values]
            checked = tuple(dict.fromkeys(_axis_value(axis, v) for v in values))
            if not checked:
                raise TuneError(f"grid {axis}: give at least one value")
            object.__setattr__(self, axis, checked)
        if self.points > MAX_GRID_POINTS:
            raise TuneError(f"the grid has {self.points:,} points; at most {MAX_GRID_POINTS:,} "
                            "(give fewer values per parameter)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TuneGrid:
        """A grid from `{"rank_constant": "20,60", ...}` (lists or comma-separated strings);
        parameters left out keep their default values."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TuneError(f"unknown grid parameter(s) {', '.join(unknown)} "
                            f"(known: {', '.join(known)})")
        return cls(**values)

    @property
    def points(self) -> int:
        return math.prod(len(getattr(self, f.name)) for f in fields(self))

    def settings(self) -> list[HybridSetting]:
        """Every distinct setting of the grid, in grid order."""
        axes = [getattr(self, f.name) for f in fields(self)]
        return list(dict.fromkeys(HybridSetting(*point) for point in itertools.product(*axes)))


def plan_trials(grid: TuneGrid, current: HybridSetting, budget: int,
                seed: int = 0) -> list[HybridSetting]:
    """The settings to try: the current one first, then the grid, sampled when it is larger
    than the budget (the same seed always picks the same settings)."""
    if budget < 1:
        raise TuneError(f"budget must be at least 1 evaluation, got {budget}")
    others = [s for s in grid.settings() if s != current]
    if len(others) > budget - 1:
        others = random.Random(seed).sample(others, budget - 1)
    return [current, *others]


@dataclass
class TuneResult:
    """What tuning found: the trials on the train queries and both settings on the test ones.

    `trials` maps each setting tried to its train nDCG@10, in the order they ran.
    `test` holds the per-query results of `current` and `tuned` on the test queries, and
    `comparison` the paired significance test of tuned against current.
    """

    dataset: str
    index: str
    subset: str
    train_split: str
    test_split: str
    train_queries: int
    test_queries: int
    current: HybridSetting
    best: HybridSetting
    trials: dict[HybridSetting, float]
    test: dict[str, ConfigResult]
    comparison: Comparison
    test_judgments: Judgments
    grid_points: int
    budget: int
    seed: int
    seconds: float = 0.0

    @property
    def test_metrics(self) -> dict[str, dict[str, float]]:
        """`{"current": {metric: mean}, "tuned": {...}}` on the test queries."""
        return {name: dict(result.means) for name, result in self.test.items()}

    def summary(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data (`to_json()` prints it)."""
        return {
            "dataset": self.dataset, "index": self.index, "subset": self.subset,
            "train": {"split": self.train_split, "queries": self.train_queries},
            "test": {"split": self.test_split, "queries": self.test_queries},
            "budget": self.budget, "seed": self.seed, "grid_points": self.grid_points,
            "current": asdict(self.current), "best": asdict(self.best),
            "trials": [{"params": asdict(s), f"train_{TRAIN_METRIC}": round(v, 4)}
                       for s, v in self.trials.items()],
            "test_metrics": {name: {m: round(v, 4) for m, v in means.items()}
                             for name, means in self.test_metrics.items()},
            "significance": self.comparison.as_dict(),
            "seconds": self.seconds,
        }

    def to_json(self) -> str:
        """The summary as one line of JSON."""
        return json.dumps(self.summary(), separators=(",", ":"))

    def test_report(self) -> EvaluationReport:
        """Current against tuned on the test queries, for `print_report` or an HTML report."""
        return EvaluationReport(dataset=self.dataset, split=self.test_split, subset=self.subset,
                                index=self.index, judgments=self.test_judgments,
                                configs=self.test, comparisons=[self.comparison],
                                seconds=self.seconds)

    def _rewrite(self, root: Path) -> tuple[str, retrieval.RetrievalDefaults | None]:
        """The file's text and the parameters to write (None when the values are the same)."""
        path = Path(root) / retrieval.FILE_NAME
        try:
            current = retrieval.read_file(root)
        except retrieval.RetrievalFileError as exc:
            raise TuneError(str(exc)) from None
        before = path.read_text(encoding="utf-8") if path.is_file() else ""
        after = self.best.apply_to(current)
        return before, None if after.as_file() == current.as_file() else after

    def diff_for_file(self, root: Path | str) -> str:
        """The unified diff that `write_file(root)` would apply to `root/retrieval.json`
        (empty when the file already holds the best setting)."""
        before, after = self._rewrite(Path(root))
        if after is None:
            return ""
        return file_diff(Path(root) / retrieval.FILE_NAME, before, after.to_json())

    def write_file(self, root: Path | str) -> str:
        """Write the best setting into `root/retrieval.json`; returns the diff applied."""
        diff = self.diff_for_file(root)
        after = self._rewrite(Path(root))[1]
        if after is not None:
            retrieval.write_file(Path(root), after)
        return diff


def _tune_index_name(root: Path, subset: Subset) -> str:
    """The full corpus shares `eval-<dataset>` with `run_evaluation`; a subset gets its own."""
    base = eval_index_name(root, Subset())
    if subset.distractors is None:
        return base
    return f"{base}-tune-{subset.label.replace('+', '-')}"


def _search_phase(client: Elasticsearch, caps: Capabilities, index: str, train: Judgments,
                  trials: Sequence[HybridSetting], embedder: VectorCache,
                  progress: Progress | None, layout: Layout = CHUNKS
                  ) -> dict[HybridSetting, float]:
    """Train nDCG@10 of every setting: the only phase that chooses, and it sees only `train`."""
    scores: dict[HybridSetting, float] = {}
    for n, setting in enumerate(trials):
        result = run_configs(client, caps, index, train, [setting.config(setting.label)],
                             embedder, progress=_stage(progress, "train", n, len(trials)),
                             layout=layout)
        scores[setting] = result[setting.label].means[TRAIN_METRIC]
    return scores


def _stage(progress: Progress | None, stage: str, step: int, steps: int) -> Progress | None:
    """Report `run_configs`' searches as part `step` of `steps` of one overall `stage`."""
    if progress is None:
        return None

    def report(what: str, done: int, total: int) -> None:
        if what.startswith("search"):
            progress(stage, step * total + done, steps * total)
    return report


def tune(client: Elasticsearch, caps: Capabilities, dataset_dir: Path | str, *,
         embedder: Embedder | None = None, grid: TuneGrid | None = None, budget: int = 30,
         train_split: str = "train", test_split: str = "test", subset: Subset | None = None,
         seed: int = 0, current: HybridSetting | None = None, index: str | None = None,
         chunk_size: int = 256, overlap: int = 32, mapping_path: Path | None = None,
         test: str = "student", progress: Progress | None = None,
         layout: Layout = CHUNKS) -> TuneResult:
    """Grid-search hybrid parameters on the train queries, report best vs current on the test ones.

    Runs at most `budget` train evaluations: the current setting (`current`, by default the
    project's `retrieval.json`) and settings of `grid` (sampled with
    `seed` when the grid is larger). The best train nDCG@10 wins (ties keep the earlier trial,
    so the current setting stays unless beaten). Both are then scored on the test queries with
    every metric of `run_evaluation`, and compared with a paired test (`student` or `fisher`).

    The corpus index is built once (or reused: the full corpus shares `run_evaluation`'s
    `eval-<dataset>` index) and every query is embedded once. `subset` picks the first N
    queries of each split, their judged documents and M distractors. `progress(stage, done,
    total)` is called with stages `chunk`, `embed`, `embed queries`, `train` and `test`.
    With a source's `layout` the dataset's corpus is not indexed: its qrels name documents of
    the source's existing index, which is searched as it is (the boost axes do not apply: a
    source's lexical boosts are in its definition).
    """
    started = time.perf_counter()
    grid = grid or TuneGrid()
    current = current or HybridSetting.from_defaults(retrieval.read_file(PROJECT_ROOT))
    trials = plan_trials(grid, current, budget, seed)
    subset = subset or Subset()
    train_set = load_beir(dataset_dir, train_split)
    test_set = load_beir(dataset_dir, test_split)
    train = select_queries(train_set.judgments, subset)
    held_out = select_queries(test_set.judgments, subset)
    overlap_ids = sorted(set(train.queries) & set(held_out.queries))
    if overlap_ids:
        raise TuneError(f"splits {train_split!r} and {test_split!r} share "
                        f"{len(overlap_ids)} queries (first: {overlap_ids[0]!r}); "
                        "tuning needs held-out test queries")
    # a subset index must hold the judged documents of both splits' queries
    both = Judgments("both", {}, {**{f"train:{q}": d for q, d in train.qrels.items()},
                                  **{f"test:{q}": d for q, d in held_out.qrels.items()}})
    embedder = embedder or Embedder()
    if layout is not CHUNKS:
        index = index or str(getattr(layout, "index", ""))
    else:
        index = index or _tune_index_name(train_set.root, subset)
        ensure_corpus_index(
            client, index, select_documents(train_set, both, subset),
            corpus_sha=corpus_digest(train_set.corpus_path), embedder=embedder,
            mapping_path=mapping_path or PROJECT_ROOT / "mappings" / "chunks.json",
            chunk_size=chunk_size, overlap=overlap, progress=progress)
    cached = VectorCache(embedder, passages=False)
    texts = [*train.queries.values(), *held_out.queries.values()]
    for n, text in enumerate(texts, start=1):
        cached.embed_query(text)
        if progress:
            progress("embed queries", n, len(texts))
    scores = _search_phase(client, caps, index, train, trials, cached, progress, layout)
    best = max(scores, key=lambda s: scores[s])  # max keeps the first of equal scores
    configs = [current.config(CURRENT), best.config(TUNED)]
    results = run_configs(client, caps, index, held_out, configs, cached,
                          progress=_stage(progress, "test", 0, 1), layout=layout)
    (comparison,) = compare_configs(held_out, results, CURRENT, test=test)
    return TuneResult(
        dataset=train_set.root.name, index=index, subset=subset.label,
        train_split=train_split, test_split=test_split, train_queries=len(train.queries),
        test_queries=len(held_out.queries), current=current, best=best, trials=scores,
        test=results, comparison=comparison, test_judgments=held_out, grid_points=grid.points,
        budget=budget, seed=seed, seconds=round(time.perf_counter() - started, 2))
