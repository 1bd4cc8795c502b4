"""Search parameters: mode, sizes, boosts, kNN settings, fusion (RRF or linear), filters, rerank."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from es_rag.retrieve.filters import Filter, parse_filters

# measured on SciFact (bench/retrieval_quality.py): title^2 in best_fields costs 0.08 nDCG@10
DEFAULT_BOOSTS: Mapping[str, float] = {"text": 1.0, "title": 1.0, "headings": 1.0}
TIE_BREAKER = 0.3
"""multi_match `tie_breaker`: the best field's score plus 0.3 × the other fields' scores, so query
terms spread over title and text add up (plain `best_fields` kept only the best field). Chosen
on SciFact's train queries (0.0: 0.680, 0.1: 0.691, 0.3: 0.697, 0.5: 0.693, 1.0: 0.674 nDCG@10,
whole documents); on its test queries BM25 went from 0.672 to 0.694."""
BOOSTABLE_FIELDS = ("text", "title", "headings", "text.standard", "title.standard")
MAX_NUM_CANDIDATES = 10_000  # Elasticsearch's own limit for knn.num_candidates
LEGS = ("bm25", "knn")
DEFAULT_WEIGHTS: Mapping[str, float] = {"bm25": 1.0, "knn": 1.0}
NORMALIZERS = ("none", "minmax", "l2_norm")  # Elasticsearch's linear retriever normalizers


class Mode(StrEnum):
    """How chunks are retrieved."""

    BM25 = "bm25"
    KNN = "knn"
    HYBRID = "hybrid"
    HYBRID_RERANK = "hybrid+rerank"

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """The mode named `value`; an unknown name raises ValueError listing the accepted ones."""
        if isinstance(value, Mode):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            accepted = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown search mode {value!r} (accepted: {accepted})") from None

    @property
    def is_hybrid(self) -> bool:
        return self in (Mode.HYBRID, Mode.HYBRID_RERANK)


class Fusion(StrEnum):
    """How hybrid search combines its BM25 and kNN legs.

    `rrf` sums weight / (rank_constant + rank) over the legs (Elasticsearch's `rrf` retriever,
    weighted since 9.2); `linear` sums weight * normalized score (the `linear` retriever,
    8.18/9.0+, with the `minmax`, `l2_norm` or `none` normalizer).
    """

    RRF = "rrf"
    LINEAR = "linear"

    @classmethod
    def parse(cls, value: str | Fusion) -> Fusion:
        """The fusion named `value`; an unknown name raises ValueError listing the known ones."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown fusion {value!r} (accepted: rrf, linear)") from None


def parse_weights(spec: str | Mapping[str, float]) -> dict[str, float]:
    """Leg weights from `"bm25=0.7,knn=0.3"` or a mapping; a leg left out weighs 1.0."""
    if isinstance(spec, str):
        pairs: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, weight = part.partition("=")
            if not sep:
                raise ValueError(f"invalid weight {part!r} (expected leg=number)")
            pairs[name.strip()] = weight
        spec = pairs
    out = dict(DEFAULT_WEIGHTS)
    for name, raw in spec.items():
        if name not in LEGS:
            raise ValueError(f"cannot weigh {name!r} (legs: {', '.join(LEGS)})")
        try:
            weight = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"weight of {name!r}: {raw!r} is not a number") from None
        if not weight >= 0:
            raise ValueError(f"weight of {name!r} must be non-negative, got {raw}")
        out[name] = weight
    if not any(out.values()):
        raise ValueError("at least one leg must have a positive weight")
    return out


RERANK_BACKENDS = ("onnx-int8", "onnx", "torch")


@dataclass(frozen=True)
class RerankSettings:
    """The rerank stage of `hybrid+rerank`.

    `model` is a local path (or cached name) of a sentence-transformers CrossEncoder; None
    selects `EmbeddingReranker`, which re-scores passages with the embedding model itself.
    `backend` runs the cross-encoder on ONNX Runtime (`onnx-int8`: exported once and quantized,
    `onnx`: fp32) or on `torch`; `max_length` caps the tokens of each (query, passage) pair.
    `inference_id` names a `rerank` inference endpoint of the cluster: where the license allows
    and fusion runs in the cluster, the `text_similarity_reranker` retriever reranks with it
    there; otherwise the stage runs in es-rag.
    """

    model: str | None = None
    top_n: int = 50
    batch_size: int = 16
    time_budget_s: float = 10.0
    inference_id: str | None = None
    backend: str = "onnx-int8"
    max_length: int = 256

    def __post_init__(self) -> None:
        if self.top_n < 1 or self.batch_size < 1:
            raise ValueError("rerank top_n and batch_size must be at least 1")
        if self.backend not in RERANK_BACKENDS:
            raise ValueError(f"rerank backend {self.backend!r} is not one of "
                             f"{', '.join(RERANK_BACKENDS)}")
        if not 16 <= self.max_length <= 512:
            raise ValueError(f"rerank max_length must be between 16 and 512, got "
                             f"{self.max_length}")
        if self.time_budget_s <= 0:
            raise ValueError("rerank time_budget_s must be positive")


def parse_boosts(spec: str | Mapping[str, float]) -> dict[str, float]:
    """Boosts from `"title^3,text^1"` or a mapping; only text fields of the chunk index."""
    if isinstance(spec, str):
        pairs: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, boost = part.partition("^")
            try:
                pairs[name.strip()] = float(boost) if boost else 1.0
            except ValueError:
                raise ValueError(f"invalid boost {part!r} (expected field^number)") from None
        spec = pairs
    out = {str(k): float(v) for k, v in spec.items()}
    for name, boost in out.items():
        if name not in BOOSTABLE_FIELDS:
            raise ValueError(f"cannot boost field {name!r} "
                             f"(boostable: {', '.join(BOOSTABLE_FIELDS)})")
        if boost <= 0:
            raise ValueError(f"boost for {name!r} must be positive, got {boost:g}")
    if not out:
        raise ValueError("at least one field must be searched (boosts are empty)")
    return out


@dataclass(frozen=True)
class SearchParams:
    """Everything that shapes one search. Defaults suit RAG (hybrid, RRF window of 100).

    `k` and `num_candidates` apply to the kNN leg in `knn` mode; in hybrid modes each leg
    contributes its top `rank_window_size` (the kNN leg uses k = rank_window_size), as
    Elasticsearch's RRF retriever does. `similarity` is a floor on the raw vector similarity.

    >>> SearchParams.from_cli(mode="knn", size="5", filters=["metadata.lang=en"]).k
    10
    """

    mode: Mode = Mode.HYBRID
    size: int = 10
    boosts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BOOSTS))
    k: int = 10
    num_candidates: int = 100
    similarity: float | None = None
    rank_constant: int = 60
    rank_window_size: int = 100
    fusion: Fusion = Fusion.RRF
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    normalizer: str = "minmax"
    filters: tuple[Filter, ...] = ()
    highlight: bool = False
    rerank: RerankSettings = field(default_factory=RerankSettings)
    explain: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Where the values came from (`retrieve.defaults`): reported in `explain["parameters"]`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode.parse(self.mode))
        object.__setattr__(self, "boosts", parse_boosts(self.boosts))
        object.__setattr__(self, "fusion", Fusion.parse(self.fusion))
        object.__setattr__(self, "weights", parse_weights(self.weights))
        if self.normalizer not in NORMALIZERS:
            raise ValueError(f"unknown normalizer {self.normalizer!r} "
                             f"(accepted: {', '.join(NORMALIZERS)})")
        object.__setattr__(self, "filters", parse_filters(self.filters))
        for name in ("size", "k", "num_candidates", "rank_constant", "rank_window_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("num_candidates", "rank_window_size"):
            if getattr(self, name) > MAX_NUM_CANDIDATES:
                raise ValueError(f"{name} must be at most {MAX_NUM_CANDIDATES}")
        if self.num_candidates < self.k:
            raise ValueError(f"num_candidates ({self.num_candidates}) must be at least "
                             f"k ({self.k})")
        if self.mode.is_hybrid and self.rank_window_size < self.size:
            raise ValueError(f"rank_window_size ({self.rank_window_size}) must be at least "
                             f"size ({self.size})")
        if self.similarity is not None and not -1.0 <= self.similarity <= 1.0 + 1e-9:
            raise ValueError(f"similarity floor {self.similarity} is not within [-1, 1]")

    @property
    def weighted(self) -> bool:
        """Whether the legs weigh differently (plain RRF treats them alike)."""
        return dict(self.weights) != dict(DEFAULT_WEIGHTS)

    @property
    def fetch_size(self) -> int:
        """How many fused hits to fetch: the rerank window in `hybrid+rerank`, else `size`."""
        if self.mode is Mode.HYBRID_RERANK:
            return min(max(self.size, self.rerank.top_n), self.rank_window_size)
        return self.size

    def tuned_values(self) -> dict[str, Any]:
        """The values `retrieval.json` sets, as this search uses them (for explain)."""
        rerank = self.rerank
        return {"mode": self.mode.value, "boosts": dict(self.boosts), "k": self.k,
                "num_candidates": self.num_candidates, "rank_constant": self.rank_constant,
                "rank_window_size": self.rank_window_size, "fusion": self.fusion.value,
                "weights": dict(self.weights), "normalizer": self.normalizer,
                "rerank": rerank_values(rerank)}

    def with_(self, **changes: Any) -> SearchParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_cli(cls, **options: Any) -> SearchParams:
        """Build params from CLI flags or a JSON request: strings are parsed, None means default.

        Accepts the field names plus `rerank_model`, `rerank_top_n`, `rerank_batch_size`,
        `rerank_time_budget_s`, `bm25_weight` and `knn_weight`; `boosts` may be
        `"title^3,text^1"`, `weights` `"bm25=0.7,knn=0.3"`, `filters` a list of filter strings,
        `rerank` a mapping of RerankSettings fields.

        >>> SearchParams.from_cli(mode="hybrid", boosts="title^3", explain=True).boosts
        {'title': 3.0}
        """
        known = {f.name: f for f in fields(cls) if f.name != "provenance"}
        rerank = dict(options.pop("rerank", None) or {})
        for key in [k for k in options if k.startswith("rerank_")]:
            value = options.pop(key)
            if value is not None:
                rerank[key.removeprefix("rerank_")] = value
        weights = options.pop("weights", None)
        if isinstance(weights, str) and weights.lstrip().startswith("{"):
            weights = json.loads(weights)
        weights = dict(parse_weights(weights)) if weights is not None else None
        for leg in LEGS:
            value = options.pop(f"{leg}_weight", None)
            if value is not None:
                weights = {**(weights or {}), leg: value}
        if weights is not None:
            options["weights"] = weights
        values: dict[str, Any] = {}
        for key, value in options.items():
            if key not in known:
                raise ValueError(f"unknown search option {key!r} "
                                 f"(known: {', '.join(sorted(known))})")
            if value is not None:
                values[key] = _coerce(key, value)
        if rerank:
            values["rerank"] = _rerank_settings(rerank)
        return cls(**values)


_INTS = ("size", "k", "num_candidates", "rank_constant", "rank_window_size")


def _coerce(key: str, value: Any) -> Any:
    try:
        if key in _INTS:
            return int(value)
        if key == "similarity":
            return float(value)
        if key in ("explain", "highlight") and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
    except (TypeError, ValueError):
        raise ValueError(f"{key}: {value!r} is not a number") from None
    if key == "boosts" and isinstance(value, str) and value.lstrip().startswith("{"):
        return json.loads(value)
    return value


def rerank_values(rerank: RerankSettings) -> dict[str, Any]:
    """The rerank stage as `retrieval.json` holds it (`inference_id` only when set, `backend`
    and `max_length` only when not the default)."""
    values: dict[str, Any] = {"model": rerank.model, "top_n": rerank.top_n,
                              "batch_size": rerank.batch_size,
                              "time_budget_s": rerank.time_budget_s}
    if rerank.inference_id:
        values["inference_id"] = rerank.inference_id
    default = RerankSettings()
    values.update({name: getattr(rerank, name) for name in ("backend", "max_length")
                   if getattr(rerank, name) != getattr(default, name)})
    return values


def _rerank_settings(options: Mapping[str, Any]) -> RerankSettings:
    known = {f.name for f in fields(RerankSettings)}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown rerank option(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(known))})")
    kinds = {"top_n": int, "batch_size": int, "time_budget_s": float, "model": str,
             "inference_id": str, "backend": str, "max_length": int}
    try:
        return RerankSettings(**{k: kinds[k](v) for k, v in options.items()})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid rerank option: {exc}") from None
