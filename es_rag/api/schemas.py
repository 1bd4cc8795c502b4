"""Request and response bodies of the HTTP API, as pydantic models: validation and OpenAPI.

One table of models serves both purposes, so the OpenAPI description cannot drift from what the
routes accept. Unknown fields are refused, so a misspelt option never goes silently unused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from es_rag.generate import Citation
from es_rag.retrieve import Hit, Mode, SearchParams, parse_filters
from es_rag.retrieve.defaults import RetrievalDefaults

from .errors import bad_request

MODES = [m.value for m in Mode]
FILTER_HELP = ("filter strings, ANDed: `field=value`, `field!=value`, `field in [a, b]`, "
               "`field>=n` (also >, <, <=), `field exists`, `field !exists`, `field^=prefix`, "
               "`not <filter>`")
TEMPLATE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ERROR_TYPES = {"mode": "unknown_mode", "filters": "invalid_filter"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_mode(value: str | None) -> str | None:
    return None if value is None else Mode.parse(value).value


def _check_filters(value: list[str]) -> list[str]:
    parse_filters(value)  # raises FilterError (a ValueError) naming the filter and the syntax
    return value


class TemplateSearch(_Body):
    """Run a stored search template by name with its parameters."""

    template: str = Field(pattern=TEMPLATE_NAME, description="id of a stored search template "
                          "(es-rag ships `bm25`, `knn` and `hybrid`)")
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "template parameters; when the template needs `query_vector` and only `query` is "
        "given, the API embeds the query"))
    filters: list[str] = Field(default_factory=list, description=FILTER_HELP + "; compiled into "
                               "the template's `filters` parameter unless params sets it")

    _filters = field_validator("filters")(_check_filters)


PARAMS_HELP = "(default: retrieval.json as `es-rag apply` stored it)"


class ModeSearch(_Body):
    """Search the chunk index by mode with a query text, filters and tuning options; options
    left out take the stored retrieval parameters (`explain.parameters` shows both)."""

    query: str = Field(min_length=1, description="the query text")
    mode: str | None = Field(None, json_schema_extra={"enum": MODES}, description=PARAMS_HELP)
    filters: list[str] = Field(default_factory=list, description=FILTER_HELP)
    size: int | None = Field(None, ge=1, le=1000, description="hits to return (default 10)")
    k: int | None = Field(None, ge=1, description="kNN neighbours (knn mode)")
    num_candidates: int | None = Field(None, ge=1, le=10_000)
    similarity: float | None = Field(None, ge=-1, le=1, description="floor on vector similarity")
    rank_constant: int | None = Field(None, ge=1, description="RRF rank constant (hybrid)")
    rank_window_size: int | None = Field(None, ge=1, le=10_000)
    fusion: Literal["rrf", "linear"] | None = Field(
        None, description="hybrid fusion: rrf (ranks) or linear (normalized scores) " + PARAMS_HELP)
    weights: dict[str, float] | str | None = Field(
        None, description="leg weights, `{\"bm25\": 1, \"knn\": 2}` or `\"bm25=1,knn=2\"` "
                          + PARAMS_HELP)
    normalizer: Literal["minmax", "l2_norm", "none"] | None = Field(
        None, description="score normalizer of linear fusion " + PARAMS_HELP)
    boosts: dict[str, float] | str | None = Field(
        None, description="field boosts, `{\"title\": 3}` or `\"title^3,text^1\"`")
    highlight: bool = False
    explain: bool = Field(False, description="add per-leg ranks and scores to each hit")
    source: str | None = Field(None, description="a defined source (sources/NAME.json): "
                               "search that existing index instead of the chunk index")

    _mode = field_validator("mode")(_check_mode)
    _filters = field_validator("filters")(_check_filters)

    def search_params(self, defaults: RetrievalDefaults) -> SearchParams:
        """The library's SearchParams (cross-field rules raise ValueError)."""
        return defaults.search_params(**self.model_dump(exclude={"query", "source"},
                                                        exclude_none=True))


class Turn(_Body):
    """One earlier turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(_Body):
    """A question, optionally a follow-up in a conversation, answered from retrieved chunks."""

    question: str = Field(min_length=1, max_length=4_000)
    mode: str | None = Field(None, json_schema_extra={"enum": MODES}, description=PARAMS_HELP)
    filters: list[str] = Field(default_factory=list, description=FILTER_HELP)
    size: int = Field(8, ge=1, le=100, description="chunks retrieved for the context")
    k: int | None = Field(None, ge=1, description="kNN neighbours (knn mode) " + PARAMS_HELP)
    num_candidates: int | None = Field(None, ge=1, le=10_000, description=PARAMS_HELP)
    rank_constant: int | None = Field(None, ge=1, description="RRF rank constant " + PARAMS_HELP)
    rank_window_size: int | None = Field(None, ge=1, le=10_000, description=PARAMS_HELP)
    fusion: Literal["rrf", "linear"] | None = Field(
        None, description="hybrid fusion: rrf (ranks) or linear (normalized scores) " + PARAMS_HELP)
    weights: dict[str, float] | str | None = Field(
        None, description="leg weights, `{\"bm25\": 1, \"knn\": 2}` or `\"bm25=1,knn=2\"` "
                          + PARAMS_HELP)
    normalizer: Literal["minmax", "l2_norm", "none"] | None = Field(
        None, description="score normalizer of linear fusion " + PARAMS_HELP)
    boosts: dict[str, float] | str | None = Field(None, description=PARAMS_HELP)
    history: list[Turn] = Field(default_factory=list, max_length=50, description=(
        "earlier turns, oldest first; a follow-up is condensed into a standalone question "
        "before retrieval"))
    stream: bool = Field(False, description="answer as Server-Sent Events")
    source: str | None = Field(None, description="a defined source (sources/NAME.json): "
                               "search that existing index instead of the chunk index")

    _mode = field_validator("mode")(_check_mode)
    _filters = field_validator("filters")(_check_filters)

    def search_params(self, defaults: RetrievalDefaults) -> SearchParams:
        """The SearchParams of the retrieval behind the answer (cross-field rules raise
        ValueError)."""
        return defaults.search_params(**self.model_dump(
            exclude={"question", "history", "stream", "source"}, exclude_none=True))


class SearchResponse(BaseModel):
    """Hits best first, the path that produced them (bm25, knn, retriever, rank_rrf,
    linear_retriever, client_rrf, client_linear or template) and the request's details."""

    hits: list[Hit]
    path_used: str
    took_ms: float
    explain: dict[str, Any]


class AskResponse(BaseModel):
    """An answer whose every `[n]` was checked against the cited chunk."""

    answer: str
    citations: list[Citation]
    provider: str
    extractive: bool
    question: str = Field(description="the standalone question retrieval ran with")
    removed_citations: list[str]
    unsupported_sentences: list[str]
    sources: list[dict[str, Any]]
    timings: dict[str, float]
    retrieval: dict[str, Any] = Field(description="the search behind the answer: `path` and "
                                      "`parameters` (values, source, overrides)")


class TokenEvent(BaseModel):
    """`event: token`: the next piece of the answer text."""

    text: str


class CitationsEvent(BaseModel):
    """`event: citations`: the verified citations, once generation is complete."""

    citations: list[Citation]
    removed_citations: list[str]
    unsupported_sentences: list[str]


class DoneEvent(BaseModel):
    """`event: done`: the final answer text (citations verified) and the timings."""

    answer: str
    provider: str
    extractive: bool
    question: str
    timings: dict[str, float]
    retrieval: dict[str, Any] = Field(description="the search behind the answer")


class ClusterHealth(BaseModel):
    reachable: bool
    status: int = Field(description="HTTP status of the cluster's root endpoint "
                        "(401/403 still mean reachable)")


class HealthResponse(BaseModel):
    """The API is up and the cluster answers."""

    status: Literal["ok"]
    cluster: ClusterHealth
    index: str
    provider: str


class ErrorDetail(BaseModel):
    type: str
    reason: str


class ErrorResponse(BaseModel):
    """Every error of the API."""

    error: ErrorDetail


def _accepted(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names accepted where an unknown field `loc` was found (nested models too)."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        inner = getattr(field.annotation, "__args__", (None,))[0] if field else None
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
    return list(model.model_fields)


def _describe(model: type[_Body], exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "missing":
            parts.append(f"missing field {where!r}")
        elif error["type"] == "extra_forbidden":
            parts.append(f"unknown field {where!r} (accepted: "
                         f"{', '.join(_accepted(model, error['loc']))})")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
    return "; ".join(parts)


def validate(model: type[_Body], body: Any) -> Any:
    """`body` as `model`, or a 400 naming each missing, unknown or invalid field."""
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {type(body).__name__}",
                          "parse_error")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        error_type = ERROR_TYPES.get(first, "validation_error")
        raise bad_request(_describe(model, exc), error_type) from None


def search_request(body: Any) -> TemplateSearch | ModeSearch:
    """The search body in either form: a stored template, or mode + query."""
    if isinstance(body, dict) and "template" in body:
        if "query" in body or "mode" in body:
            raise bad_request("give either 'template' (with 'params') or 'mode' and 'query', "
                              "not both")
        return validate(TemplateSearch, body)
    if isinstance(body, dict) and "query" not in body and "params" in body:
        raise bad_request("missing field 'template' (a 'params' body runs a stored template)")
    return validate(ModeSearch, body)


RESPONSE_MODELS: list[type[BaseModel]] = [
    SearchResponse, AskResponse, TokenEvent, CitationsEvent, DoneEvent, HealthResponse,
    ErrorResponse,
]
REQUEST_MODELS: list[type[BaseModel]] = [TemplateSearch, ModeSearch, AskRequest]
