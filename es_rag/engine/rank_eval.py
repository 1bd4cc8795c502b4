"""The `_rank_eval` API: parse the request, run each rated search, score it as Elasticsearch does.

Metrics follow Elasticsearch's rank-eval module (`PrecisionAtK`, `RecallAtK`,
`MeanReciprocalRank`, `DiscountedCumulativeGain`, `ExpectedReciprocalRank`): every metric forces
the search size to its `k`, hits are joined with ratings on (`_index`, `_id`), and the overall
`metric_score` is the mean over the requests that did not fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from es_rag.engine.errors import (
    ActionRequestValidation,
    BadRequest,
    EngineError,
    ParsingError,
    XContentParseError,
)

RunSearch = Callable[[str | list[str], dict[str, Any]], list[dict[str, Any]]]
"""Runs one search body on the given indices and returns its hits (`_index`, `_id`, `_score`)."""

RenderTemplate = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
"""Renders a script object (`{"source": ...}` or `{"id": stored_id}`) with params to a body."""

_SPEC_FIELDS = ("requests", "metric", "templates", "max_concurrent_searches")
_REQUEST_FIELDS = ("id", "request", "ratings", "params", "summary_fields", "template_id")
_ILLEGAL_PARTS = (
    ("suggest", "Query in rated requests should not contain a suggest section."),
    ("aggs", "Query in rated requests should not contain aggregations."),
    ("aggregations", "Query in rated requests should not contain aggregations."),
    ("highlight", "Query in rated requests should not contain a highlighter section."),
)


# ---- parameter parsing -------------------------------------------------------------------------

def _int(owner: str, name: str, value: Any) -> int:
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
    threshold = _threshold(_int(owner, "relevant_rating_threshold",
                                p.get("relevant_rating_threshold", 1)))
    return threshold, _positive_k(_int(owner, "k", p.get("k", 10)))


def _unknown_rating_and_k(owner: str, p: Mapping[str, Any]) -> tuple[int | None, int]:
    """`unknown_doc_rating` (default None) and `k` (default 10) of a metric's params."""
    unknown = p.get("unknown_doc_rating")
    return (None if unknown is None else _int(owner, "unknown_doc_rating", unknown),
            _int(owner, "k", p.get("k", 10)))


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
        return cls(_int(cls.name, "maximum_relevance", p["maximum_relevance"]),
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


# ---- request parsing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RatedRequest:
    """One rated search: an inline `request` or a `template_id` with `params`, and its ratings."""

    id: str
    ratings: dict[tuple[str, str], int]
    request: dict[str, Any] | None
    params: dict[str, Any]
    template_id: str | None
    summary_fields: list[str]


def _wrapped(reason: str) -> XContentParseError:
    return XContentParseError("[rank_eval] failed to parse field [requests]",
                              caused_by={"type": "illegal_argument_exception", "reason": reason})


def validate_request(request: Mapping[str, Any]) -> None:
    """Refuse the search parts `_rank_eval` does not allow, with Elasticsearch's messages."""
    for key, message in _ILLEGAL_PARTS:
        if request.get(key) is not None:
            raise BadRequest(message)
    if request.get("explain") in (True, "true"):
        raise BadRequest("Query in rated requests should not use explain.")
    if request.get("profile") in (True, "true"):
        raise BadRequest("Query in rated requests should not use profile.")


def _parse_ratings(request_id: str, raw: Any) -> dict[tuple[str, str], int]:
    if not isinstance(raw, list):
        raise _wrapped(f"[ratings] of request [{request_id}] must be an array")
    ratings: dict[tuple[str, str], int] = {}
    for doc in raw:
        if not isinstance(doc, Mapping):
            raise _wrapped(f"a rating of request [{request_id}] is not an object")
        for key in doc:
            if key not in ("_index", "_id", "rating"):
                raise XContentParseError(f"[rated_document] unknown field [{key}]")
        for required in ("_index", "_id", "rating"):
            if required not in doc:
                raise _wrapped(f"Required [{required}]")
        index, doc_id = doc["_index"], doc["_id"]
        if not index:
            raise _wrapped("Index must be set for each rated document")
        if not doc_id:
            raise _wrapped("DocId must be set for each rated document")
        key = (str(index), str(doc_id))
        if key in ratings:
            raise _wrapped(f'Found duplicate rated document key [{{"_index":"{index}",'
                           f'"_id":"{doc_id}"}}] in evaluation request [{request_id}]')
        ratings[key] = _int("rated_document", "rating", doc["rating"])
    return ratings


def _parse_request(raw: Any) -> RatedRequest:
    if not isinstance(raw, Mapping):
        raise ParsingError("[rank_eval] each entry of [requests] must be an object")
    for key in raw:
        if key not in _REQUEST_FIELDS:
            raise XContentParseError(f"[request] unknown field [{key}]")
    if "id" not in raw:
        raise _wrapped("Required [id]")
    if "ratings" not in raw:
        raise _wrapped("Required [ratings]")
    request_id = str(raw["id"])
    request, params = raw.get("request"), dict(raw.get("params") or {})
    template_id = raw.get("template_id")
    if (params and request is not None) or (template_id is not None and request is not None):
        raise _wrapped("Ambiguous rated request: Set both, verbatim test request and test "
                       "request template parameters.")
    if not params and request is None:
        raise _wrapped("Need to set at least test request or test request template parameters.")
    if params and template_id is None:
        raise _wrapped("If template parameters are supplied need to set id of template to "
                       "apply them to too.")
    if request is not None:
        if not isinstance(request, Mapping):
            raise _wrapped(f"[request] of request [{request_id}] must be an object")
        try:
            validate_request(request)
        except BadRequest as exc:
            raise _wrapped(exc.reason) from None
    summary = raw.get("summary_fields") or []
    return RatedRequest(request_id, _parse_ratings(request_id, raw["ratings"]),
                        dict(request) if request is not None else None, params,
                        None if template_id is None else str(template_id),
                        [str(f) for f in summary])


def _parse_templates(raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ParsingError("[rank_eval] [templates] must be an array")
    templates: dict[str, dict[str, Any]] = {}
    for entry in raw:
        if not isinstance(entry, Mapping) or "id" not in entry or "template" not in entry:
            raise XContentParseError("[rank_eval] failed to parse field [templates]",
                                     caused_by={"type": "illegal_argument_exception",
                                                "reason": "each template needs [id] and "
                                                          "[template]"})
        script = entry["template"]
        if not isinstance(script, Mapping) or not ({"source", "id"} & set(script)):
            raise XContentParseError("[rank_eval] failed to parse field [templates]",
                                     caused_by={"type": "illegal_argument_exception",
                                                "reason": "must specify either [source] for an "
                                                          "inline script or [id] for a stored "
                                                          "script"})
        templates[str(entry["id"])] = dict(script)
    return templates


@dataclass(frozen=True)
class RankEvalSpec:
    """A parsed `_rank_eval` request body."""

    requests: list[RatedRequest]
    metric: Metric
    templates: dict[str, dict[str, Any]]
    max_concurrent_searches: int = 10


def parse_rank_eval(body: Any) -> RankEvalSpec:
    """Parse and validate a `_rank_eval` body, raising Elasticsearch's errors."""
    if not body:
        raise ActionRequestValidation("Validation Failed: 1: request body is required;")
    if not isinstance(body, Mapping):
        raise ParsingError("[rank_eval] request body must be an object")
    for key in body:
        if key not in _SPEC_FIELDS:
            raise XContentParseError(f"[rank_eval] unknown field [{key}]")
    for required in ("requests", "metric"):
        if required not in body:
            raise XContentParseError("[rank_eval] failed to parse object",
                                     caused_by={"type": "illegal_argument_exception",
                                                "reason": f"Required [{required}]"})
    raw_requests = body["requests"]
    if not isinstance(raw_requests, list):
        raise ParsingError("[rank_eval] [requests] must be an array")
    requests = [_parse_request(r) for r in raw_requests]
    metric = parse_metric(body["metric"])
    if not requests:
        raise BadRequest("Cannot evaluate ranking if no search requests with rated results are "
                         "provided. Seen: []")
    templates = _parse_templates(body.get("templates"))
    if not templates:
        for request in requests:
            if request.request is None:
                raise EngineError("Cannot evaluate ranking if neither template nor evaluation "
                                  f"request is provided. Seen for request id: {request.id}",
                                  status=500, error_type="illegal_state_exception")
    max_searches = _int("rank_eval", "max_concurrent_searches",
                        body.get("max_concurrent_searches", 10))
    return RankEvalSpec(requests, metric, templates, max_searches)


# ---- evaluation --------------------------------------------------------------------------------

def _search_body(request: RatedRequest, spec: RankEvalSpec,
                 render_template: RenderTemplate | None) -> dict[str, Any]:
    if request.request is not None:
        body = dict(request.request)
    else:
        script = spec.templates.get(request.template_id or "")
        if script is None:
            raise BadRequest(f"no template with id [{request.template_id}] in [templates] "
                             f"(request [{request.id}])")
        if render_template is None:
            raise BadRequest("templated rank_eval requests are not supported here")
        body = dict(render_template(script, request.params))
        validate_request(body)
    body["size"] = spec.metric.k
    body["_source"] = list(request.summary_fields) if request.summary_fields else False
    return body


def _join(hits: Sequence[Mapping[str, Any]],
          ratings: Mapping[tuple[str, str], int]) -> list[RatedHit]:
    return [RatedHit(dict(hit), ratings.get((str(hit.get("_index")), str(hit.get("_id")))))
            for hit in hits]


def _detail(score: float, hits: list[RatedHit], metric_name: str,
            metric_detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "metric_score": score,
        "unrated_docs": [{"_index": h.hit.get("_index"), "_id": h.hit.get("_id")}
                         for h in hits if h.rating is None],
        "hits": [{"hit": h.hit, "rating": h.rating} for h in hits],
        "metric_details": {metric_name: metric_detail},
    }


def evaluate_rank_eval(body: Any, run_search: RunSearch, *,
                       indices: str | list[str] = "_all",
                       render_template: RenderTemplate | None = None) -> dict[str, Any]:
    """Run a `_rank_eval` request and return its full response body.

    `run_search(indices, search_body)` runs one search (size forced to the metric's k, `_source`
    off unless `summary_fields` are asked for) and returns its hits; an `EngineError` it raises
    becomes that request's entry in `failures`. `render_template(script, params)` renders a
    `templates` entry (`{"source": ...}` or `{"id": stored_id}`) into a search body.

    >>> evaluate_rank_eval({"requests": [...], "metric": {"dcg": {"normalize": True}}},
    ...                    lambda index, body: hits_of(index, body))  # doctest: +SKIP
    """
    spec = parse_rank_eval(body)
    metric = spec.metric
    details: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, Any]] = {}
    for request in spec.requests:
        try:
            search_body = _search_body(request, spec, render_template)
        except (ParsingError, XContentParseError) as exc:  # a template rendering bad JSON
            failures[request.id] = {"error": exc.body()["error"]}
            continue
        try:
            hits = run_search(indices, search_body)
        except EngineError as exc:
            failures[request.id] = {"error": exc.body()["error"]}
            continue
        rated = _join(hits, request.ratings)
        score, detail = metric.evaluate(rated, request.ratings)
        details[request.id] = _detail(score, rated, metric.name, detail)
    scores = [d["metric_score"] for d in details.values()]
    overall: float | str = sum(scores) / len(scores) if scores else "NaN"
    return {"metric_score": overall, "details": details, "failures": failures}
