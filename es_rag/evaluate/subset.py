"""Deterministic subsets of a BEIR dataset, small enough to embed and evaluate in CI.

A subset is the first N judged queries (qrels file order), every document they judge, and the
first M other documents of the corpus (file order) as distractors. The same inputs always give
the same subset, so a baseline measured on it stays comparable from run to run.

`CI_SUBSET` on SciFact's test split: 30 queries, their 32 judged abstracts and 170
distractors (202 documents), chunked at 2048 tokens so each abstract is one chunk
(the longest has 1,356 tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from es_rag.evaluate.judgments import BeirDataset, CorpusDoc, Judgments

CI_QUERIES = 30
CI_DISTRACTORS = 170
CI_CHUNK_SIZE = 2048  # one chunk per abstract, embedded (truncated) whole as BEIR does


@dataclass(frozen=True)
class Subset:
    """How much of a dataset to evaluate: None means all queries / the whole corpus."""

    queries: int | None = None
    distractors: int | None = None

    def __post_init__(self) -> None:
        for name in ("queries", "distractors"):
            value = getattr(self, name)
            if value is not None and value < (1 if name == "queries" else 0):
                raise ValueError(f"subset {name} must be positive, got {value}")

    @property
    def label(self) -> str:
        """`full`, or e.g. `q50+d450` for 50 queries and 450 distractors."""
        if self.queries is None and self.distractors is None:
            return "full"
        distractors = "all" if self.distractors is None else self.distractors
        return f"q{self.queries or 'all'}+d{distractors}"


CI_SUBSET = Subset(CI_QUERIES, CI_DISTRACTORS)


def select_queries(judgments: Judgments, subset: Subset) -> Judgments:
    """The first `subset.queries` judged queries, in qrels file order."""
    if subset.queries is None:
        return judgments
    return judgments.subset(list(judgments.qrels)[: subset.queries])


def select_documents(dataset: BeirDataset, judgments: Judgments, subset: Subset
                     ) -> list[CorpusDoc]:
    """Every judged document of `judgments` plus the first `subset.distractors` others.

    With `subset.distractors` None the whole corpus is returned, in file order.
    """
    if subset.distractors is None:
        return list(dataset.corpus())
    judged = judgments.judged_docs
    chosen: list[CorpusDoc] = []
    others = 0
    for doc in dataset.corpus():
        if doc.id in judged:
            chosen.append(doc)
        elif others < subset.distractors:
            chosen.append(doc)
            others += 1
    return chosen
