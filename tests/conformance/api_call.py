"""Turn a ``do`` step into an HTTP request; send it with the official client's perform_request."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, ElasticsearchWarning, UnsupportedProductError

from .api_specs import API_SPECS, NDJSON_APIS, ApiPath
from .stash import Stash, java_string

JSON_CONTENT_TYPE = "application/json"
NDJSON_CONTENT_TYPE = "application/x-ndjson"
# One Warning header value: `299 Elasticsearch-9.1.0-abc "text" "date"`; several may share a line.
_WARNING_VALUE = re.compile(r'\d{3} \S+ "((?:[^"\\]|\\.)*)"(?: "[^"]*")?')


class ParamError(ValueError):
    """The step cannot become a request (unknown API, missing path part): nothing is sent."""


class TransportFailure(RuntimeError):
    """No usable HTTP answer (timeout, connection refused, unreadable body, not Elasticsearch)."""


@dataclass
class Request:
    """One HTTP request built from a ``do`` step."""

    api: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    ignore: frozenset[int] = frozenset()

    def describe(self) -> str:
        """``api: METHOD /path?query`` for reports."""
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.api}: {self.method} {self.path}{'?' + query if query else ''}"


@dataclass
class Response:
    """An HTTP answer: status, parsed body (text for text/plain, bool for HEAD) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]
    method: str

    @property
    def is_error(self) -> bool:
        """Whether the status is 4xx/5xx."""
        return self.status >= 400

    @property
    def warnings(self) -> list[str]:
        """The texts of the deprecation ``Warning`` headers, unescaped."""
        header = self.headers.get("warning") or ""
        return [re.sub(r"\\(.)", r"\1", m.group(1)) for m in _WARNING_VALUE.finditer(header)]

    def text(self) -> str:
        """The body as text, for failure reports."""
        if isinstance(self.body, str):
            return self.body
        return json.dumps(self.body, ensure_ascii=False, default=str)


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_param_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return java_string(value)


def _is_absent(value: Any) -> bool:
    return value is None or value == [] or value == ""


def _choose_path(api: str, given: set[str]) -> ApiPath:
    candidates = [p for p in API_SPECS[api] if p.parts <= given]
    if not candidates:
        needed = " or ".join(sorted("[" + ", ".join(sorted(p.parts)) + "]" for p in API_SPECS[api]))
        raise ParamError(f"api [{api}] needs path parts {needed}, got {sorted(given)}")
    return max(candidates, key=lambda p: len(p.parts))


def _choose_method(path: ApiPath, has_body: bool) -> str:
    if has_body:
        return next((m for m in path.methods if m not in ("GET", "HEAD")), path.methods[0])
    return "GET" if "GET" in path.methods else path.methods[0]


def _ndjson(body: Any, stash: Stash) -> bytes:
    if isinstance(body, str):
        text = stash.resolve_text(body)
        objects = _json_objects(text)
        if objects is not None:  # as the Java runner: each object of the string on its line
            return "".join(json.dumps(o) + "\n" for o in objects).encode()
        return (text if text.endswith("\n") else text + "\n").encode()
    items = body if isinstance(body, list) else [body]
    lines = [stash.resolve_text(item) if isinstance(item, str) else json.dumps(stash.resolve(item))
             for item in items]
    return "".join(line.rstrip("\n") + "\n" for line in lines).encode()


def _json_objects(text: str) -> list[Any] | None:
    """The JSON objects a string body holds one after another (pretty-printed over several
    lines or not), as Elasticsearch's YAML runner (`DoSection`) reads a string body; None when
    it is not such a sequence."""
    decoder = json.JSONDecoder()
    objects, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return objects
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        if not isinstance(value, dict):
            return None
        objects.append(value)


def _ignored_statuses(value: Any) -> frozenset[int]:
    values = value if isinstance(value, list) else [value]
    try:
        return frozenset(int(v) for v in values if v is not None)
    except (TypeError, ValueError) as exc:
        raise ParamError(f"[ignore] must be status codes, got {value!r}") from exc


def build_request(api: str, arguments: Mapping[str, Any] | None, headers: Mapping[str, Any],
                  stash: Stash) -> Request:
    """Map an API call of a ``do`` step to method, path, query string, headers and body."""
    if api not in API_SPECS:
        raise ParamError(f"unknown api [{api}]: not in the REST API specification "
                         f"(tests/conformance/rest_api_spec.json)")
    arguments = dict(arguments or {})
    body = arguments.pop("body", None)
    arguments = stash.resolve(arguments)
    ignore = _ignored_statuses(arguments.pop("ignore", None))  # client-side: never sent
    # An empty path part (`index: []`) means "use the path without it"; other empty values
    # (`refresh: ""`) are sent as they are.
    part_names = frozenset().union(*(p.parts for p in API_SPECS[api]))
    arguments = {k: v for k, v in arguments.items()
                 if v is not None and not (k in part_names and _is_absent(v))}
    path = _choose_path(api, set(arguments))
    url = path.template
    params: dict[str, str] = {}
    for name, value in arguments.items():
        if name in path.parts:
            url = url.replace("{" + name + "}", quote(_param_value(value), safe=",*"))
        else:
            params[name] = _param_value(value)
    request_headers = {str(k): java_string(stash.resolve(v)) for k, v in headers.items()}
    has_content_type = any(k.lower() == "content-type" for k in request_headers)
    if body is not None:
        if api in NDJSON_APIS:
            body = _ndjson(body, stash)
            default_type = NDJSON_CONTENT_TYPE
        elif isinstance(body, str):
            body = stash.resolve_text(body).encode()
            default_type = JSON_CONTENT_TYPE
        else:
            body = stash.resolve(body)
            default_type = JSON_CONTENT_TYPE
        if not has_content_type:
            request_headers["Content-Type"] = default_type
    method = _choose_method(path, body is not None)
    return Request(api, method, url, params, request_headers, body, ignore)


def send(client: Elasticsearch, request: Request, timeout: float) -> Response:
    """Send a request: any HTTP status comes back as a Response; no answer -> TransportFailure."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ElasticsearchWarning)
            result = client.options(request_timeout=timeout).perform_request(
                request.method, request.path, params=request.params or None,
                headers=request.headers or None, body=request.body)
    except UnsupportedProductError as exc:
        raise TransportFailure(
            f"the client refused the answer: {exc.message} "
            f"(status {exc.meta.status}, headers {dict(exc.meta.headers)})") from exc
    except ApiError as exc:
        body = exc.body if request.method != "HEAD" else False
        return Response(exc.meta.status, body, exc.meta.headers, request.method)
    except TransportError as exc:
        raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
    return Response(result.meta.status, result.body, result.meta.headers, request.method)
