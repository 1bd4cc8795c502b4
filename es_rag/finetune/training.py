"""What both trainers share: parameters, examples with hard negatives, batches without in-batch
duplicates, a linear warm-up schedule, and early stopping on the held-out training queries."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from es_rag.finetune.data import TrainingQuery
from es_rag.finetune.mining import hard_negatives

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class TrainingParams:
    """How a model is trained (recorded in its manifest)."""

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 2e-5
    negatives: int = 1
    max_seq_length: int = 256
    max_steps: int | None = None
    held_out: float = 0.1
    patience: int = 1
    seed: int = 13
    warmup: float = 0.1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "negatives", "max_seq_length", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, "
                                 f"got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max-steps must be at least 1, got {self.max_steps}")
        if not 0 < self.held_out < 1:
            raise ValueError(f"held-out must be a fraction between 0 and 1, got {self.held_out}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning-rate must be positive, got {self.learning_rate}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Example:
    """One training row: the query, the passage it should match, and hard negatives."""

    query: str
    positive_doc: str
    positive: str
    negatives: tuple[str, ...]


def examples(queries: Sequence[TrainingQuery], pools: Mapping[str, Sequence[str]],
             passages: Mapping[str, str], count: int, rng: random.Random) -> list[Example]:
    """One example per (query, relevant document), each with `count` hard negatives from the
    query's pool (topped up with random passages when the pool is short)."""
    every = sorted(passages)
    rows: list[Example] = []
    for query in queries:
        for doc, text in zip(query.positives, query.positive_texts, strict=True):
            chosen = [d for d in hard_negatives(query, pools.get(query.qid, ()), count, rng)
                      if d in passages]
            while len(chosen) < count and len(every) > len(query.positives) + len(chosen):
                extra = rng.choice(every)
                if extra not in query.positives and extra not in chosen:
                    chosen.append(extra)
            if len(chosen) == count:
                rows.append(Example(query.text, doc, text,
                                    tuple(passages[d] for d in chosen)))
    return rows


def batches(rows: Sequence[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffled batches in which no document or query appears twice (another row's positive is
    an in-batch negative, so a duplicate would teach the model to push a relevant one away)."""
    pending = list(rows)
    rng.shuffle(pending)
    out: list[list[Example]] = []
    while pending:
        batch: list[Example] = []
        seen: set[str] = set()
        rest: list[Example] = []
        for row in pending:
            keys = {row.positive_doc, row.query}
            if len(batch) < size and not keys & seen:
                batch.append(row)
                seen |= keys
            else:
                rest.append(row)
        out.append(batch)
        pending = rest
    return out


def total_steps(rows: int, params: TrainingParams) -> int:
    """Optimizer steps the run will take at most."""
    steps = params.epochs * max(1, math.ceil(rows / params.batch_size))
    return min(steps, params.max_steps) if params.max_steps else steps


def warmup_schedule(optimizer: Any, steps: int, warmup: float) -> Any:
    """Linear warm-up over the first `warmup` of `steps`, then linear decay to zero."""
    import torch

    warm = max(1, int(steps * warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (steps - step) / max(1, steps - warm))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class EarlyStopping:
    """Keeps the best weights by the held-out metric; says stop after `patience` epochs
    without improvement."""

    def __init__(self, model: Any, baseline: float, patience: int) -> None:
        self.model = model
        self.best = baseline
        self.best_epoch = 0
        self.patience = patience
        self.misses = 0
        self.state = self._snapshot()
        self.history: list[float] = []

    def _snapshot(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def epoch_done(self, epoch: int, score: float) -> bool:
        """Record the epoch's score; True when training should stop."""
        self.history.append(round(score, 4))
        if score > self.best:
            self.best, self.best_epoch, self.misses = score, epoch, 0
            self.state = self._snapshot()
            return False
        self.misses += 1
        return self.misses >= self.patience

    def restore(self) -> None:
        """Put the best weights back (the base weights when no epoch improved on them)."""
        self.model.load_state_dict(self.state)
