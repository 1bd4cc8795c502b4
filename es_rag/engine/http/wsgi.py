"""The engine as a WSGI application: one request in, one Elasticsearch-shaped response out.

waitress (see `server.py`) owns the sockets: HTTP/1.1 parsing, keep-alive, chunked request
bodies, the body size limit, timeouts and the worker pool. This module only turns the WSGI
environment into a `RestRequest`, dispatches it, and writes the status, the headers the
official clients require and the JSON body.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from .. import limits as engine_limits
from ..errors import EngineError
from ..limits import Limits
from .filter_path import apply_filter_path
from .rest import RestRequest, RestResponse

if TYPE_CHECKING:
    from ..app import EngineApp

log = logging.getLogger("es_rag.engine")
_ACCEPTED_TYPES = ("application/json", "application/x-ndjson",
                   "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson",
                   "text/plain", "application/x-www-form-urlencoded", "application/smile",
                   "application/yaml", "application/cbor")
NESTED_TOO_DEEPLY = EngineError("the request nests objects or arrays too deeply for the engine "
                                "to process it", status=400,
                                error_type="illegal_argument_exception")
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def status_line(status: int) -> str:
    """`404 Not Found` for 404."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def error_payload(error: EngineError) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an Elasticsearch error response (also for waitress's own errors)."""
    return ([("X-Elastic-Product", "Elasticsearch"), ("Content-Type", "application/json")],
            orjson.dumps(error.body()))


class EngineWsgi:
    """Serves `app` over WSGI with the engine's `limits`."""

    def __init__(self, app: EngineApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        token = engine_limits.serving(self.app.node.cluster_settings.effective(self.limits))
        try:
            status, headers, payload = self._serve(environ)
        finally:
            engine_limits.reset(token)
        start_response(status_line(status), headers)
        return [payload]

    def _serve(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = _headers(environ)
        uri = environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/"
        compat = _compat_media_type(headers)
        request: RestRequest | None = None
        try:
            request = self._request(environ, headers, uri, compat)
            response = self.app.dispatch(request)
        except EngineError as err:
            response = RestResponse(err.body(), err.status,
                                    headers=dict(getattr(err, "headers", None) or {}))
        except RecursionError:
            response = RestResponse(NESTED_TOO_DEEPLY.body(), NESTED_TOO_DEEPLY.status)
        except (Exception, BaseException) as err:  # noqa: B036 - tantivy panics are BaseException
            if isinstance(err, KeyboardInterrupt | SystemExit):
                raise
            log.exception("unhandled error")
            body = EngineError(f"{type(err).__name__}: {err}").body()
            if "error_trace=true" in uri and self.app.gate is None:  # no traces to strangers
                body["error"]["stack_trace"] = traceback.format_exc()
            response = RestResponse(body, 500)
        params = request.params if request is not None else \
            dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))
        return _render(environ["REQUEST_METHOD"], response, params, compat)

    def _request(self, environ: dict[str, Any], headers: dict[str, str], uri: str,
                 compat: str | None) -> RestRequest:
        length = int(environ.get("CONTENT_LENGTH") or 0)  # waitress checked it is a number
        raw = environ["wsgi.input"].read(length) if length else b""
        content_type = headers.get("content-type", "")
        if raw and content_type and not content_type.split(";")[0].strip().lower().startswith(
                _ACCEPTED_TYPES):
            raise EngineError(f"Content-Type header [{content_type}] is not supported",
                              status=406, error_type="media_type_header_exception")
        if compat is not None and compat not in ("8", "9"):
            raise EngineError(f"A compatible version is required on both Content-Type and "
                              f"Accept headers if either one has requested a compatible version "
                              f"and the compatible versions must match. Accept="
                              f"{headers.get('accept')}, Content-Type={content_type}",
                              status=400, error_type="media_type_header_exception")
        url = urlsplit(uri)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        return RestRequest(environ["REQUEST_METHOD"], url.path or "/", params, raw, headers,
                           remote_address=environ.get("REMOTE_ADDR"),
                           max_content_length=self.limits.max_content_length)


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """Request headers by lower-case name, as the handlers and the security gate read them."""
    out = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").lower()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            out[key.replace("_", "-").lower()] = value
    return out


def _dumps(body: Any) -> bytes:
    """JSON bytes of a response body; past orjson's nesting limit (254 levels), the standard
    library's encoder, and an error body past Python's own."""
    try:
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        try:
            return json.dumps(body, ensure_ascii=False, default=_plain).encode()
        except RecursionError:
            error = EngineError("the response nests objects or arrays too deeply to be encoded")
            return orjson.dumps(error.body())


def _plain(value: Any) -> Any:
    """numpy values as JSON values (for the standard library's encoder)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _compat_media_type(headers: dict[str, str]) -> str | None:
    for header in ("accept", "content-type"):
        value = headers.get(header, "")
        if "vnd.elasticsearch" in value:
            for part in value.split(";"):
                part = part.strip()
                if part.startswith("compatible-with="):
                    return part.split("=", 1)[1]
    return None


def _render(method: str, response: RestResponse, params: dict[str, str], compat: str | None
            ) -> tuple[int, list[tuple[str, str]], bytes]:
    if response.text:
        payload = str(response.body).encode()
        content_type = "text/plain; charset=UTF-8"
    else:
        body = response.body
        if "filter_path" in params and isinstance(body, dict | list):
            body = apply_filter_path(body, params["filter_path"])
        if "pretty" in params and params["pretty"] != "false":
            payload = json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n"
        else:
            payload = _dumps(body)
        content_type = (f"application/vnd.elasticsearch+json;compatible-with={compat}"
                        if compat else "application/json")
    headers = [("X-Elastic-Product", "Elasticsearch"), ("Content-Type", content_type)]
    headers += list(response.headers.items())
    if method == "HEAD":
        return response.status, [*headers, ("Content-Length", "0")], b""
    return response.status, [*headers, ("Content-Length", str(len(payload)))], payload
