"""Rank-eval metrics as Elasticsearch's rank-eval module has them (`PrecisionAtK`, `RecallAtK`,
`MeanReciprocalRank`, `DiscountedCumulativeGain`, `ExpectedReciprocalRank`), with their
parameters parsed and refused as Elasticsearch does."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from es_rag.engine.errors import BadRequest, ParsingError, XContentParseError

# ---- parameter parsing -------------------------------------------------------------------------

def int_field(owner: str, name: str, value: Any) -> int:
    """An integer field of `owner` (a whole float or a numeric string too), else the parse error
    Elasticsearch gives."""
    if isinstance(value, bool):
        raise XContentParseError(f"[{owner}] failed to parse field [{name}]")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise XContentParseError(f"[{owner}] failed to parse field [{name}]",
                             caused_by={"type": "number_format_exception",
                                        "reason": f"For input string: \"{value}\""})


def _bool(owner: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise XContentParseError(f"[{owner}] failed to parse field [{name}]",
                             caused_by={"type": "illegal_argument_exception",
                                        "reason": f"Failed to parse value [{value}] as only "
                                                  "[true] or [false] are allowed."})


def _params(owner: str, params: Any, allowed: Sequence[str]) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise ParsingError(f"[{owner}] expected an object, got {type(params).__name__}")
    for key in params:
        if key not in allowed:
            raise XContentParseError(f"[{owner}] unknown field [{key}]")
    return dict(params)


def _positive_k(k: int) -> int:
    if k <= 0:
        raise BadRequest("Window size k must be positive.")
    return k


def _threshold_and_k(owner: str, p: Mapping[str, Any]) -> tuple[int, int]:
    """`relevant_rating_threshold` (default 1) and `k` (default 10) of a metric's params."""
    threshold = _threshold(int_field(owner, "relevant_rating_threshold",
                                p.get("relevant_rating_threshold", 1)))
    return threshold, _positive_k(int_field(owner, "k", p.get("k", 10)))


def _unknown_rating_and_k(owner: str, p: Mapping[str, Any]) -> tuple[int | None, int]:
    """`unknown_doc_rating` (default None) and `k` (default 10) of a metric's params."""
    unknown = p.get("unknown_doc_rating")
    return (None if unknown is None else int_field(owner, "unknown_doc_rating", unknown),
            int_field(owner, "k", p.get("k", 10)))


def _threshold(value: int) -> int:
    if value < 0:
        raise BadRequest("Relevant rating threshold for precision must be positive integer.")
    return value


# ---- metrics -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RatedHit:
    """A search hit joined with its rating (None when the request did not rate it)."""

    hit: dict[str, Any]
    rating: int | None


@dataclass(frozen=True)
class Precision:
    """Precision@k: relevant hits over retrieved hits (unrated hits count unless ignored)."""

    relevant_rating_threshold: int = 1
    ignore_unlabeled: bool = False
    k: int = 10
    name = "precision"

    @classmethod
    def parse(cls, params: Any) -> Precision:
        p = _params(cls.name, params, ("relevant_rating_threshold", "ignore_unlabeled", "k"))
        threshold, k = _threshold_and_k(cls.name, p)
        return cls(threshold, _bool(cls.name, "ignore_unlabeled",
                                    p.get("ignore_unlabeled", False)), k)

    def evaluate(self, hits: list[RatedHit],
                 ratings: Mapping[tuple[str, str], int]) -> tuple[float, dict[str, Any]]:
        relevant = retrieved = 0
        for hit in hits:
            if hit.rating is not None:
                retrieved += 1
                relevant += hit.rating >= self.relevant_rating_threshold
            elif not self.ignore_unlabeled:
                retrieved += 1
        score = relevant / retrieved if retrieved else 0.0
        return score, {"relevant_docs_retrieved": relevant, "docs_retrieved": retrieved}


@dataclass(frozen=True)
class _ThresholdAtK:
    """A metric whose only parameters are `relevant_rating_threshold` and `k`."""

    relevant_rating_threshold: int = 1
    k: int = 10
    name: ClassVar[str]

    @classmethod
    def parse(cls, params: Any) -> Self:
        p = _params(cls.name, params, ("relevant_rating_threshold", "k"))
        return cls(*_threshold_and_k(cls.name, p))

    def relevant(self, hit: RatedHit) -> bool:
        """Whether `hit` is rated at least `relevant_rating_threshold`."""
        return hit.rating is not None and hit.rating >= self.relevant_rating_threshold


@dataclass(frozen=True)
class Recall(_ThresholdAtK):
    """Recall@k: relevant hits retrieved over all relevant rated documents."""

    name = "recall"

    def evaluate(self, hits: list[RatedHit],
                 ratings: Mapping[tuple[str, str], int]) -> tuple[float, dict[str, Any]]:
        retrieved = sum(self.relevant(h) for h in hits)
        relevant = sum(r >= self.relevant_rating_threshold for r in ratings.values())
        score = retrieved / relevant if relevant else 0.0
        return score, {"relevant_docs_retrieved": retrieved, "relevant_docs": relevant}


@dataclass(frozen=True)
class MeanReciprocalRank(_ThresholdAtK):
    """Reciprocal rank of the first relevant hit (0 when none), averaged over requests."""

    name = "mean_reciprocal_rank"

    def evaluate(self, hits: list[RatedHit],
                 ratings: Mapping[tuple[str, str], int]) -> tuple[float, dict[str, Any]]:
        first = next((rank for rank, h in enumerate(hits, start=1) if self.relevant(h)), -1)
        return (1.0 / first if first > 0 else 0.0), {"first_relevant": first}


def _dcg(ratings: Sequence[int | None]) -> float:
    """Sum of (2^rating - 1) / log2(rank + 1); None keeps its rank but adds nothing."""
    return sum((2.0 ** r - 1) / math.log2(rank + 1)
               for rank, r in enumerate(ratings, start=1) if r is not None)


@dataclass(frozen=True)
class DiscountedCumulativeGain:
    """DCG over the hits; with `normalize`, divided by the ideal DCG of the rated documents.

    As in Elasticsearch, the ideal ranking is cut at the number of hits returned, and unrated
    hits count with `unknown_doc_rating` when it is set (else they only take up a rank).
    """

    normalize: bool = False
    unknown_doc_rating: int | None = None
    k: int = 10
    name = "dcg"

    @classmethod
    def parse(cls, params: Any) -> DiscountedCumulativeGain:
        p = _params(cls.name, params, ("normalize", "unknown_doc_rating", "k"))
        return cls(_bool(cls.name, "normalize", p.get("normalize", False)),
                   *_unknown_rating_and_k(cls.name, p))

    def evaluate(self, hits: list[RatedHit],
                 ratings: Mapping[tuple[str, str], int]) -> tuple[float, dict[str, Any]]:
        in_hits = [h.rating if h.rating is not None else self.unknown_doc_rating for h in hits]
        unrated = sum(h.rating is None for h in hits)
        dcg = _dcg(in_hits)
        score, ideal = dcg, 0.0
        if self.normalize:
            best = sorted(ratings.values(), reverse=True)[: len(in_hits)]
            ideal = _dcg(best)
            score = dcg / ideal if ideal else 0.0
        detail: dict[str, Any] = {"dcg": dcg}
        if ideal:
            detail.update(ideal_dcg=ideal, normalized_dcg=dcg / ideal)
        detail["unrated_docs"] = unrated
        return score, detail


@dataclass(frozen=True)
class ExpectedReciprocalRank:
    """ERR (Chapelle et al. 2009) over the top k hits, with `maximum_relevance` required."""

    maximum_relevance: int
    unknown_doc_rating: int | None = None
    k: int = 10
    name = "expected_reciprocal_rank"

    @classmethod
    def parse(cls, params: Any) -> ExpectedReciprocalRank:
        p = _params(cls.name, params, ("maximum_relevance", "unknown_doc_rating", "k"))
        if "maximum_relevance" not in p:
            raise XContentParseError(f"[{cls.name}] failed to parse object",
                                     caused_by={"type": "illegal_argument_exception",
                                                "reason": "Required [maximum_relevance]"})
        return cls(int_field(cls.name, "maximum_relevance", p["maximum_relevance"]),
                   *_unknown_rating_and_k(cls.name, p))

    def evaluate(self, hits: list[RatedHit],
                 ratings: Mapping[tuple[str, str], int]) -> tuple[float, dict[str, Any]]:
        top = hits[: self.k]
        unrated = sum(h.rating is None for h in top)
        p_continue, err = 1.0, 0.0
        for rank, hit in enumerate(top, start=1):
            rating = hit.rating if hit.rating is not None else self.unknown_doc_rating
            if rating is not None:
                prob = (2.0 ** rating - 1) / 2.0 ** self.maximum_relevance
                err += p_continue * prob / rank
                p_continue *= 1 - prob
        return err, {"unrated_docs": unrated}


Metric = Precision | Recall | MeanReciprocalRank | DiscountedCumulativeGain | ExpectedReciprocalRank
METRICS: dict[str, type[Metric]] = {m.name: m for m in (  # type: ignore[misc]
    Precision, Recall, MeanReciprocalRank, DiscountedCumulativeGain, ExpectedReciprocalRank)}


def parse_metric(spec: Any) -> Metric:
    """The metric of a `metric` object: exactly one key naming one of `METRICS`."""
    if not isinstance(spec, Mapping):
        raise ParsingError("[rank_eval] failed to parse field [metric]: expected an object")
    if len(spec) != 1:
        found = "END_OBJECT" if not spec else "FIELD_NAME"
        expected = "FIELD_NAME" if not spec else "END_OBJECT"
        raise ParsingError(f"Failed to parse object: expecting token of type [{expected}] "
                           f"but found [{found}]")
    (name, params), = spec.items()
    if name not in METRICS:
        raise XContentParseError(
            "[rank_eval] failed to parse field [metric]",
            caused_by={"type": "named_object_not_found_exception",
                       "reason": f"unknown field [{name}] (metrics: {', '.join(METRICS)})"})
    return METRICS[name].parse(params if params is not None else {})
