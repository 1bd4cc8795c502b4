"""Run retrieval configurations over judged queries and score them: the evaluation itself.

```
client, caps = connect(load_settings())
report = run_evaluation(client, caps, "../shared/datasets/scifact",
                        parse_configs("bm25,knn,hybrid"), embedder=Embedder())
print(report.to_json())
```
Chunk hits are aggregated to documents (a document ranks where its best chunk ranks), so
judgments about documents apply to a chunk index.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from es_rag.config import PROJECT_ROOT
from es_rag.connect import Capabilities
from es_rag.embedding.cache import VectorCache
from es_rag.embedding.local import Embedder
from es_rag.evaluate.configs import EvalConfig
from es_rag.evaluate.corpus import CorpusIndex, Progress, corpus_digest, ensure_corpus_index
from es_rag.evaluate.judgments import Judgments, load_beir
from es_rag.evaluate.metrics import METRICS, Comparison, compare_rankings, score_ranking
from es_rag.evaluate.subset import Subset, select_documents, select_queries
from es_rag.retrieve import Hit, Mode, Reranker, search, search_template
from es_rag.retrieve.defaults import RetrievalDefaults, read_stored
from es_rag.retrieve.queries import CHUNKS, Layout

DEPTH = 100  # results fetched per query: enough for recall@100 and map@100


def documents_of(hits: Sequence[Hit]) -> list[tuple[str, float]]:
    """Chunk hits → (doc_id, score) best first; each document keeps its first (best) chunk."""
    ranked: dict[str, float] = {}
    for hit in hits:
        ranked.setdefault(hit.doc_id or hit.chunk_id, hit.score)
    return list(ranked.items())


@dataclass
class ConfigResult:
    """One configuration's results: metric means, per-query values, rankings and latency."""

    name: str
    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    rankings: dict[str, list[tuple[str, float]]]
    latency_ms: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latency_ms) if self.latency_ms else 0.0

    def worst_queries(self, metric: str = "ndcg@10", n: int = 10) -> list[tuple[str, float]]:
        """The `n` queries with the lowest `metric`, lowest first (ties by query id)."""
        values = self.per_query[metric]
        return sorted(values.items(), key=lambda item: (item[1], item[0]))[:n]


@dataclass
class EvaluationReport:
    """Everything one evaluation measured; `to_json()` is the `--json` output."""

    dataset: str
    split: str
    subset: str
    index: str
    judgments: Judgments
    configs: dict[str, ConfigResult]
    comparisons: list[Comparison] = field(default_factory=list)
    corpus: CorpusIndex | None = None
    chunk_size: int | None = None
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    """Corpus documents left out (empty or unparsable), as `file:line: reason`."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """The retrieval parameters the configurations started from, and their origin."""

    @property
    def queries(self) -> int:
        return len(self.judgments.queries)

    def summary(self) -> dict[str, Any]:
        """`{"dataset", "queries", "configs": {name: {metric: mean}}}` plus run details."""
        return {
            "dataset": self.dataset,
            "queries": self.queries,
            "configs": {name: {m: round(v, 4) for m, v in r.means.items()}
                        for name, r in self.configs.items()},
            "split": self.split,
            "subset": self.subset,
            "index": self.index,
            "chunk_size": self.chunk_size,
            "significance": [c.as_dict() for c in self.comparisons],
            "p50_ms": {name: round(r.p50_ms, 1) for name, r in self.configs.items()},
            "skipped_documents": len(self.skipped),
            "skipped": self.skipped[:20],
            "parameters": self.parameters,
        }

    def to_json(self) -> str:
        """The summary as one line of JSON."""
        return json.dumps(self.summary(), separators=(",", ":"))


SearchFn = Callable[[str], list[Hit]]


def _searcher(client: Elasticsearch, caps: Capabilities, index: str, config: EvalConfig,
              embedder: VectorCache | None, reranker: Reranker | None,
              depth: int, defaults: RetrievalDefaults, layout: Layout = CHUNKS) -> SearchFn:
    if config.is_template and layout is not CHUNKS:
        raise ValueError("stored templates search the chunk index, not a source "
                         f"({config.name!r})")
    if config.is_template:
        base = {"size": depth, "filters": [], **config.params}

        def run_template(query: str) -> list[Hit]:
            params = {**base, "query": query}
            if embedder is not None:
                params.setdefault("query_vector", embedder.embed_query(query))
            return search_template(client, index, str(config.template_id), params).hits
        return run_template
    params = config.search_params(depth, defaults)

    def run_mode(query: str) -> list[Hit]:
        return search(client, caps, index, query, params, embedder, reranker=reranker,
                      layout=layout).hits
    return run_mode


def run_configs(client: Elasticsearch, caps: Capabilities, index: str, judgments: Judgments,
                configs: Sequence[EvalConfig], embedder: Embedder | None = None, *,
                depth: int = DEPTH, reranker: Reranker | None = None,
                progress: Progress | None = None,
                defaults: RetrievalDefaults | None = None,
                layout: Layout = CHUNKS) -> dict[str, ConfigResult]:
    """Search every judged query with every configuration and score the rankings.

    Configurations start from `defaults` (by default the retrieval parameters stored in the
    cluster), as `es-rag search` does. Queries are embedded once, before any search, so
    `latency_ms` is search time alone.
    """
    defaults = defaults or read_stored(client)
    cached = VectorCache(embedder, passages=False) if embedder is not None else None
    if cached is not None and any(
            c.is_template or c.search_params(depth, defaults).mode is not Mode.BM25
            for c in configs):
        for n, text in enumerate(judgments.queries.values(), start=1):
            cached.embed_query(text)  # up front, so latencies measure search alone
            if progress:
                progress("embed queries", n, len(judgments.queries))
    total = len(configs) * len(judgments.queries)
    done = 0
    results: dict[str, ConfigResult] = {}
    for config in configs:
        run = _searcher(client, caps, index, config, cached, reranker, depth, defaults, layout)
        rankings: dict[str, list[tuple[str, float]]] = {}
        latency: list[float] = []
        for qid, text in judgments.queries.items():
            started = time.perf_counter()
            rankings[qid] = documents_of(run(text))
            latency.append((time.perf_counter() - started) * 1000)
            done += 1
            if progress:
                progress(f"search {config.name}", done, total)
        scores = score_ranking(judgments.qrels, _doc_ids(rankings), METRICS)
        results[config.name] = ConfigResult(config.name, scores.means, scores.per_query,
                                            rankings, latency)
    return results


def _doc_ids(rankings: Mapping[str, list[tuple[str, float]]]) -> dict[str, list[str]]:
    return {qid: [doc for doc, _ in ranked] for qid, ranked in rankings.items()}


def compare_configs(judgments: Judgments, results: Mapping[str, ConfigResult],
                    baseline: str | None = None, metric: str = "ndcg@10",
                    test: str = "student") -> list[Comparison]:
    """Paired tests of every configuration against `baseline` (default: the first one)."""
    names = list(results)
    if len(names) < 2:
        return []
    baseline = baseline or names[0]
    if baseline not in results:
        raise ValueError(f"baseline configuration {baseline!r} was not run "
                         f"(ran: {', '.join(names)})")
    base = (baseline, _doc_ids(results[baseline].rankings))
    return [compare_rankings(judgments.qrels, base, (name, _doc_ids(r.rankings)), metric, test)
            for name, r in results.items() if name != baseline]


def eval_index_name(dataset_root: Path, subset: Subset) -> str:
    """`eval-<dataset>` for a full corpus, `eval-<dataset>-<subset label>` for a subset."""
    name = "".join(ch if ch.isalnum() else "-" for ch in dataset_root.resolve().name.lower())
    suffix = "" if subset.distractors is None else f"-{subset.label.replace('+', '-')}"
    return f"eval-{name}{suffix}"


def run_evaluation(client: Elasticsearch, caps: Capabilities, dataset_dir: Path | str,
                   configs: Sequence[EvalConfig], *, embedder: Embedder | None = None,
                   split: str = "test", subset: Subset | None = None,
                   index: str | None = None, chunk_size: int = 256, overlap: int = 32,
                   mapping_path: Path | None = None, compare_to: str | None = None,
                   test: str = "student", reranker: Reranker | None = None,
                   progress: Progress | None = None) -> EvaluationReport:
    """Index the dataset's corpus if needed (reused when unchanged), run `configs`, score them.

    `subset` limits the queries and the corpus (see `es_rag.evaluate.subset`); `compare_to`
    names the configuration the others are tested against (default: the first).
    """
    started = time.perf_counter()
    subset = subset or Subset()
    dataset = load_beir(dataset_dir, split)
    judgments = select_queries(dataset.judgments, subset)
    embedder = embedder or Embedder()
    index = index or eval_index_name(dataset.root, subset)
    corpus = ensure_corpus_index(
        client, index, select_documents(dataset, judgments, subset),
        corpus_sha=corpus_digest(dataset.corpus_path), embedder=embedder,
        mapping_path=mapping_path or PROJECT_ROOT / "mappings" / "chunks.json",
        chunk_size=chunk_size, overlap=overlap, progress=progress)
    defaults = read_stored(client)
    results = run_configs(client, caps, index, judgments, configs, embedder,
                          reranker=reranker, progress=progress, defaults=defaults)
    return EvaluationReport(
        dataset=dataset.root.name, split=split, subset=subset.label, index=index,
        judgments=judgments, configs=results,
        comparisons=compare_configs(judgments, results, compare_to, test=test),
        corpus=corpus, chunk_size=chunk_size, seconds=round(time.perf_counter() - started, 2),
        skipped=list(dataset.skipped), parameters=_parameters(defaults))


def _parameters(defaults: RetrievalDefaults) -> dict[str, Any]:
    return {"source": defaults.origin, "values": defaults.values()}


def evaluate_live(client: Elasticsearch, caps: Capabilities, index: str, judgments: Judgments,
                  configs: Sequence[EvalConfig], *, embedder: Any = None,
                  defaults: RetrievalDefaults | None = None, compare_to: str | None = None,
                  test: str = "student", progress: Progress | None = None,
                  layout: Layout = CHUNKS) -> EvaluationReport:
    """Evaluate what users get: the judged queries against the live chunk index `index`,
    searched as `es-rag search` searches (stored retrieval parameters, `defaults` when given),
    chunk hits collapsed to their documents, since judgments are per document. With a
    source's `layout`, `index` is that existing index and judgments name its own document ids.

    >>> judgments = read_judgments("judgments/playground.qrels")          # doctest: +SKIP
    >>> evaluate_live(client, caps, "chunks", judgments, parse_configs("current"),
    ...               embedder=embedder).summary()["configs"]              # doctest: +SKIP
    """
    started = time.perf_counter()
    defaults = defaults or read_stored(client)
    results = run_configs(client, caps, index, judgments, configs, embedder,
                          progress=progress, defaults=defaults, layout=layout)
    return EvaluationReport(
        dataset=judgments.name, split="live", subset="all", index=index, judgments=judgments,
        configs=results, comparisons=compare_configs(judgments, results, compare_to, test=test),
        seconds=round(time.perf_counter() - started, 2), parameters=_parameters(defaults))
