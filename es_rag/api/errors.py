"""JSON errors of the HTTP API: `{"error": {"type", "reason"}}` with the status that fits.

Cluster errors keep the cluster's own status (401, 403, 404, 503…) and reason; an unreachable
cluster is a 502 and a cluster that does not answer in time a 504.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import elastic_transport
from elasticsearch import ApiError as ClusterApiError
from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from es_rag.errors import EsRagError
from es_rag.generate import GenerationError, ProviderUnavailableError
from es_rag.retrieve import FilterError, SearchError

log = logging.getLogger(__name__)
BASIC_CHALLENGE = 'Basic realm="security", charset="UTF-8"'


class ApiError(EsRagError):
    """An error answered as JSON: `status`, a short `type` and a `reason` naming the problem."""

    def __init__(self, status: int, error_type: str, reason: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.type = error_type
        self.reason = reason
        self.headers = headers or {}

    def as_dict(self) -> dict[str, Any]:
        """The response body."""
        return {"error": {"type": self.type, "reason": self.reason}}

    def response(self) -> Response:
        """The Flask response carrying this error."""
        response = jsonify(self.as_dict())
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def bad_request(reason: str, error_type: str = "validation_error") -> ApiError:
    """A 400 for a request the API cannot use."""
    return ApiError(400, error_type, reason)


def _cluster_reason(exc: ClusterApiError) -> tuple[str, str]:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("type") or "cluster_error"), str(error.get("reason") or exc.message)
    return "cluster_error", str(exc.message)


def from_cluster(exc: ClusterApiError) -> ApiError:
    """The cluster's error with the cluster's status (401 keeps its WWW-Authenticate)."""
    error_type, reason = _cluster_reason(exc)
    headers = {}
    challenge = exc.meta.headers.get("www-authenticate") if exc.meta.headers else None
    if exc.meta.status == 401:
        headers["WWW-Authenticate"] = challenge or BASIC_CHALLENGE
    return ApiError(exc.meta.status, error_type, reason, headers=headers)


def from_transport(exc: elastic_transport.TransportError, url: str) -> ApiError:
    """502 when the cluster cannot be reached, 504 when it did not answer in time."""
    if isinstance(exc, elastic_transport.ConnectionTimeout):
        return ApiError(504, "cluster_timeout", f"the cluster at {url} did not answer in time")
    return ApiError(502, "cluster_unreachable", f"cannot reach the cluster at {url}: "
                                                f"{str(exc.message).splitlines()[0][:200]}")


def from_search(exc: SearchError) -> ApiError:
    """A refused search keeps the cluster's status; a missing stored template is a 404."""
    status = exc.status or 502
    if status == 404 and "template" in str(exc):
        return ApiError(404, "unknown_template", str(exc))
    return ApiError(status, "search_failed", str(exc))


def from_generation(exc: GenerationError) -> ApiError:
    """The LLM provider failed: 503 when it is down, else 502 (the reason says what to fix)."""
    status = 503 if isinstance(exc, ProviderUnavailableError) else 502
    return ApiError(status, "generation_failed", str(exc))


def as_api_error(exc: Exception, cluster_url: Callable[[], str]) -> ApiError | None:
    """The ApiError for a known failure of the library or the cluster, else None.

    `cluster_url` returns the cluster's URL, named in the reason of a transport error.
    """
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, FilterError):
        return bad_request(str(exc), "invalid_filter")
    if isinstance(exc, SearchError):
        return from_search(exc)
    if isinstance(exc, ClusterApiError):
        return from_cluster(exc)
    if isinstance(exc, elastic_transport.TransportError):
        return from_transport(exc, cluster_url())
    if isinstance(exc, GenerationError):
        return from_generation(exc)
    return None


def install(bp: Blueprint, cluster_url: Callable[[], str]) -> None:
    """Answer every error raised under the blueprint as JSON (`cluster_url` as above)."""

    @bp.errorhandler(Exception)
    def _any_error(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return ApiError(exc.code or 500, exc.name.lower().replace(" ", "_"),
                            exc.description or exc.name).response()
        error = as_api_error(exc, cluster_url)
        if error is None:
            log.exception("unexpected error in the es-rag API")
            error = ApiError(500, "internal_error",
                             f"the API failed unexpectedly ({type(exc).__name__}); "
                             "the server log has the details")
        return error.response()
