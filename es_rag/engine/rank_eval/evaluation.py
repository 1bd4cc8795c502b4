"""The `_rank_eval` request: parse it, run each rated search, score it with its metric."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from es_rag.engine.errors import (
    ActionRequestValidation,
    BadRequest,
    EngineError,
    ParsingError,
    XContentParseError,
)

from .metrics import Metric, RatedHit, int_field, parse_metric

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
        ratings[key] = int_field("rated_document", "rating", doc["rating"])
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
    max_searches = int_field("rank_eval", "max_concurrent_searches",
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
