"""Questions an LLM writes for passages of the corpus: training queries for `--unsupervised`
fine-tuning when a chat model is configured (the synthetic-query recipe of InPars/Promptagator,
with its round-trip filter: a question is kept when current retrieval finds its passage).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from es_rag.finetune.data import TrainingData, TrainingQuery, digest
from es_rag.generate.providers.base import ChatModel, GenerationError

PROMPT = ("Passage:\n{passage}\n\nWrite one short question that this passage answers, in your "
          "own words. Reply with the question only.")
MAX_PASSAGE_CHARS = 1500
MAX_QUESTION_WORDS = 40
MIN_QUESTION_WORDS = 3
CONSISTENCY_DEPTH = 10  # a question's passage must be among the first candidates of its pool
GENERATED = ":generated"
_LABEL = re.compile(r"^\s*(?:\d+[.)]\s*|(?:question|q)\s*[:.-]\s*)", re.IGNORECASE)

Progress = Callable[[str, int, int | None], None]


@dataclass
class GeneratedQuestions:
    """The questions written, and the passages for which the model gave none (with why)."""

    queries: list[TrainingQuery] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def clean_question(reply: str) -> str | None:
    """The question of a model's reply: its first line that is a question, without a "Question:"
    label or quotes; None when there is no usable one (too short, too long, no question)."""
    for line in reply.splitlines():
        line = _LABEL.sub("", line.strip()).strip().strip("\"'`“”*").strip()
        if line.endswith("?") and MIN_QUESTION_WORDS <= len(line.split()) <= MAX_QUESTION_WORDS:
            return line
    return None


def generate_questions(passages: Mapping[str, str], chat: ChatModel, *, count: int,
                       seed: int = 13, progress: Progress | None = None) -> GeneratedQuestions:
    """One question for each of `count` passages drawn (seeded) from `passages`. A failed call
    or an unusable reply is recorded in `refused` and the rest go on."""
    rng = random.Random(seed)
    chosen = sorted(passages)
    rng.shuffle(chosen)
    chosen = chosen[:count]
    found = GeneratedQuestions()
    for done, doc_id in enumerate(chosen, start=1):
        text = passages[doc_id]
        prompt = PROMPT.format(passage=text[:MAX_PASSAGE_CHARS])
        try:
            reply = chat.complete([{"role": "user", "content": prompt}], max_tokens=64)
        except GenerationError as exc:
            found.refused[doc_id] = str(exc)
        else:
            question = clean_question(reply)
            if question is None:
                found.refused[doc_id] = f"no usable question in the reply {reply[:80]!r}"
            else:
                found.queries.append(TrainingQuery(f"{doc_id}{GENERATED}", question, (doc_id,),
                                                   (text,)))
        if progress:
            progress("questions", done, len(chosen))
    return found


def with_generated(data: TrainingData, generated: GeneratedQuestions,
                   model: str) -> TrainingData:
    """`data` with the generated questions added; the fingerprint covers them and the model."""
    questions: Sequence[str] = [q.text for q in generated.queries]
    return TrainingData(f"{data.source}+generated:{model}", [*data.queries, *generated.queries],
                        data.passages, digest(data.fingerprint, model, *questions),
                        [*data.skipped, *(f"{d}: {why}" for d, why in generated.refused.items())])


def round_trip_filtered(data: TrainingData, pools: Mapping[str, Sequence[str]], *,
                        depth: int = CONSISTENCY_DEPTH) -> tuple[TrainingData, int]:
    """`data` without the generated questions whose passage is not among the first `depth`
    candidates current retrieval returns for them (a question that does not find its own
    passage is vague or wrong); with how many were dropped."""
    kept: list[TrainingQuery] = []
    dropped: list[str] = []
    for query in data.queries:
        pool = pools.get(query.qid, [])[:depth]
        if query.qid.endswith(GENERATED) and not set(query.positives) & set(pool):
            dropped.append(f"{query.qid}: {query.text!r} does not retrieve its passage")
        else:
            kept.append(query)
    return (TrainingData(data.source, kept, data.passages, digest(data.fingerprint, *dropped),
                         [*data.skipped, *dropped]), len(dropped))
