"""What both trainers share: parameters, examples with hard negatives, batches without in-batch
duplicates, the held-out split, the optimisation loop with a linear warm-up schedule, and early
stopping on the held-out training queries."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from es_rag.errors import EsRagError
from es_rag.finetune.data import (
    TrainingData,
    TrainingDataError,
    TrainingQuery,
    split_held_out,
)
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
    layers: int | None = None
    """Keep only the first N transformer layers: a smaller model, faster to train and serve."""
    max_steps: int | None = None
    max_minutes: float | None = None
    """Training time budget: after the first steps the run plans its steps from their pace."""
    mined_negatives: bool = True
    """Hard negatives from each query's candidate pool; False: random passages (for
    pseudo-queries, whose top candidates are often as relevant as their own passage)."""
    held_out: float = 0.1
    patience: int = 1
    seed: int = 13
    warmup: float = 0.1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "negatives", "max_seq_length", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, "
                                 f"got {getattr(self, name)}")
        if self.layers is not None and self.layers < 1:
            raise ValueError(f"layers must be at least 1, got {self.layers}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max-steps must be at least 1, got {self.max_steps}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max-minutes must be positive, got {self.max_minutes}")
        if not 0 < self.held_out < 1:
            raise ValueError(f"held-out must be a fraction between 0 and 1, got {self.held_out}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning-rate must be positive, got {self.learning_rate}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def recorded(cls, parameters: Mapping[str, Any]) -> TrainingParams:
        """The parameters a manifest records (entries that are not parameters, such as the
        reranker's `loss`, left out)."""
        return cls(**{name: value for name, value in parameters.items()
                      if name in cls.__dataclass_fields__})


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


PACE_STEPS = 3  # steps timed before a time budget plans the rest


class Plan:
    """The number of optimizer steps, which a time budget lowers as the pace becomes known
    (re-planned after every step from the pace so far, so a machine that gets busier mid-run
    still stops in time)."""

    def __init__(self, steps: int, max_minutes: float | None = None) -> None:
        self.steps = steps
        self.budget_s = max_minutes * 60 if max_minutes else None
        self.started = time.perf_counter()

    def step_done(self, step: int) -> None:
        """After step `step` (1-based): fit the remaining steps into the budget."""
        if self.budget_s is not None and step >= PACE_STEPS:
            pace = (time.perf_counter() - self.started) / step
            self.steps = min(self.steps, max(step, int(self.budget_s / pace)))


def warmup_schedule(optimizer: Any, plan: Plan, warmup: float) -> Any:
    """Linear warm-up over the first `warmup` of the planned steps, then linear decay to
    zero (read at every step, so a time budget's plan shortens the decay)."""
    import torch

    def factor(step: int) -> float:
        warm = max(1, int(plan.steps * warmup))
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (plan.steps - step) / max(1, plan.steps - warm))
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


def keep_layers(model: Any, layers: int | None) -> None:
    """Cut a Hugging Face transformer (a bare encoder or one under a task head) to its first
    `layers` layers, in place; None keeps them all."""
    if layers is None:
        return
    base = getattr(model, model.base_model_prefix, model)
    if not hasattr(getattr(base, "encoder", None), "layer"):
        raise EsRagError(f"layers {layers}: only BERT-style encoders (encoder.layer) can be cut, "
                         f"not {model.config.model_type}")
    present = len(base.encoder.layer)
    if layers > present:
        raise EsRagError(f"layers {layers}: the base model has only {present}")
    base.encoder.layer = base.encoder.layer[:layers]
    model.config.num_hidden_layers = layers


def held_out_of(data: TrainingData, params: TrainingParams) -> list[TrainingQuery]:
    """The queries a training run with `params` held back (its fraction and seed)."""
    return split_held_out(data.queries, params.held_out, params.seed)[1]


@dataclass
class Prepared:
    """A training run's inputs: its rows, the held-out queries and the seeded generator."""

    rows: list[Example]
    held: list[TrainingQuery]
    rng: random.Random


def prepare(data: TrainingData, pools: Mapping[str, Sequence[str]],
            params: TrainingParams) -> Prepared:
    """Seed torch and sampling, hold back part of the queries, and build the training rows."""
    import torch

    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)
    train, held = split_held_out(data.queries, params.held_out, params.seed)
    rows = examples(train, pools if params.mined_negatives else {}, data.passages,
                    params.negatives, rng)
    if not rows:
        raise TrainingDataError(f"{data.source}: no training example could be built (every "
                                "query lacks a negative passage)")
    return Prepared(rows, held, rng)


def fit(model: Any, params: TrainingParams, epoch_batches: Callable[[], Sequence[Any]],
        loss_of: Callable[[Any], Any], evaluate: Callable[[], float], baseline: float,
        progress: Progress | None = None) -> tuple[int, EarlyStopping]:
    """AdamW with warm-up and linear decay over `epoch_batches()` per epoch (at most
    `params.max_steps`, and what fits `params.max_minutes` at the first steps' pace), gradients
    clipped; after each epoch `evaluate()` (held-out, higher is better) decides whether to go
    on. The best weights (or the initial ones, when no epoch beats `baseline`) are put back.
    Returns the steps taken and the early-stopping record."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    batched = epoch_batches()
    steps = params.epochs * max(1, len(batched))
    plan = Plan(min(steps, params.max_steps) if params.max_steps else steps, params.max_minutes)
    schedule = warmup_schedule(optimizer, plan, params.warmup)
    stopping = EarlyStopping(model, baseline, params.patience)
    step = 0
    for epoch in range(1, params.epochs + 1):
        model.train()
        for batch in batched if epoch == 1 else epoch_batches():
            if step >= plan.steps:
                break
            loss_of(batch).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            plan.step_done(step)
            if progress:
                progress("train", step, plan.steps)
        model.eval()
        if stopping.epoch_done(epoch, evaluate()) or step >= plan.steps:
            break
    stopping.restore()
    model.eval()
    return step, stopping
