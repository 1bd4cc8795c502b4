"""Typed REST requests and responses, and the router that maps method + path to a handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from ..deprecation import collecting
from ..errors import BadRequest, EngineError
from ..limits import MB
from ..node import VERSION
from .body import decode_body
from .params import check as check_params
from .params import ignored_warning

if TYPE_CHECKING:
    from ..security.read_scope import ReadScope

# path parts whose value may start with `_` (names chosen by users, not API keywords)
_ANY_NAME = ("id", "name", "task_id", "username", "user", "application", "ids")
GLOBAL_PARAMS = {"pretty", "human", "error_trace", "filter_path", "format", "source",
                 "source_content_type"}


def escape_warning(message: str) -> str:
    """A message as a `Warning` header's quoted text carries it (`HeaderWarning.escapeAndEncode`:
    backslashes and quotes escaped)."""
    return message.replace("\\", "\\\\").replace('"', '\\"')


def flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean URL parameter (`?x`, `?x=true`, `?x=false`); anything else is a 400 like ES."""
    value = params.get(name)
    if value is None:
        return default
    if value in ("", "true"):
        return True
    if value == "false":
        return False
    raise BadRequest(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


@dataclass
class RestRequest:
    """An HTTP request as a handler sees it.

    `raw_body` is the body as received; `body` is it decompressed (`Content-Encoding: gzip`),
    which happens on first use, so after authentication, and never beyond
    `max_content_length` bytes. `read_scope` is what the request may read (its user's DLS),
    set by `EngineApp.dispatch` before any handler runs; handlers pass `scope` to the services
    that read documents.
    """

    method: str
    path: str
    params: dict[str, str]
    raw_body: bytes
    headers: dict[str, str]
    path_params: dict[str, str] = field(default_factory=dict)
    remote_address: str | None = None
    max_content_length: int = 100 * MB
    read_scope: ReadScope | None = field(default=None, repr=False)
    _body: bytes | None = field(default=None, repr=False)

    def with_body(self, body: bytes) -> RestRequest:
        """This request with `body` as its decoded body (the raw bytes stay as received)."""
        return replace(self, _body=body)

    @property
    def scope(self) -> ReadScope:
        """The request's read scope (an internal error if none was set: never read unscoped)."""
        if self.read_scope is None:
            raise EngineError(f"no read scope for [{self.method} {self.path}]", status=500)
        return self.read_scope

    @property
    def body(self) -> bytes:
        """The decoded body (413 beyond `max_content_length`, 400 when it does not decode)."""
        if self._body is None:
            self._body = decode_body(self.raw_body, self.headers.get("content-encoding", ""),
                                     self.max_content_length)
        return self._body

    def json(self, required: bool = False) -> Any:
        """The body parsed as JSON (None when empty); malformed JSON is a 400 like ES's."""
        data = self.body
        if not data.strip() and "source" in self.params:
            data = self.params["source"].encode()
        if not data.strip():
            if required:
                raise BadRequest("request body is required",
                                 error_type="action_request_validation_exception")
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise EngineError(f"Failed to parse content to type [{self.path}]: {err}",
                              status=400, error_type="x_content_parse_exception") from err

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean URL parameter (`?x`, `?x=true`, `?x=false`)."""
        return flag(self.params, name, default)

    def int_param(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as err:
            raise BadRequest(f"Failed to parse int parameter [{name}] with value "
                             f"[{value}]") from err


@dataclass
class RestResponse:
    """What a handler returns: a status and a JSON body (or text for `_cat`)."""

    body: Any
    status: int = 200
    text: bool = False
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RestRequest], RestResponse]


@dataclass
class Route:
    method: str
    segments: list[str]
    handler: Handler
    params: frozenset[str]


class Router:
    """Routes keyed by method and path pattern (`/{index}/_doc/{id}`)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, methods: str, pattern: str, handler: Handler, params: str = "") -> None:
        """Register a handler for space-separated methods on a pattern; `params` are the URL
        parameters it accepts (others are refused as Elasticsearch does)."""
        segments = [s for s in pattern.split("/") if s]
        accepted = frozenset(params.split())
        for method in methods.split():
            self.routes.append(Route(method, segments, handler, accepted))

    def _match(self, route: Route, parts: list[str]) -> dict[str, str] | None:
        if len(route.segments) != len(parts):
            return None
        found: dict[str, str] = {}
        for seg, part in zip(route.segments, parts, strict=True):
            if seg.startswith("{"):
                name = seg[1:-1]
                if part.startswith("_") and name not in _ANY_NAME and \
                        not (name == "index" and part == "_all"):
                    return None
                found[name] = part
            elif seg != part:
                return None
        return found

    def has_route(self, method: str, path: str) -> bool:
        """Whether a handler serves `method path`."""
        return self._best(method, path, [])[0] is not None

    def _best(self, method: str, path: str, allowed: list[str]
              ) -> tuple[Route | None, dict[str, str]]:
        """The route serving `method path` and its path parameters (methods of the routes
        matching the path with another method go to `allowed`)."""
        from urllib.parse import unquote

        parts = [unquote(p) for p in path.split("/") if p]
        served = "GET" if method == "HEAD" else method
        best: tuple[int, Route, dict[str, str]] | None = None
        for route in self.routes:
            found = self._match(route, parts)
            if found is None:
                continue
            if route.method not in (served, method):
                allowed.append(route.method)
                continue
            literal = sum(1 for s in route.segments if not s.startswith("{"))
            exact_head = route.method == method
            rank = literal * 2 + (1 if exact_head else 0)
            if best is None or rank > best[0]:
                best = (rank, route, found)
        return (None, {}) if best is None else (best[1], best[2])

    def dispatch(self, req: RestRequest) -> RestResponse:
        """Find and run the handler; unknown paths and methods are answered like ES."""
        allowed: list[str] = []
        route, found = self._best(req.method, req.path, allowed)
        if route is None:
            if allowed:
                methods = ", ".join(sorted(set(allowed)))
                raise EngineError(f"Incorrect HTTP method for uri [{req.path}] and method "
                                  f"[{req.method}], allowed: [{methods}]", status=405,
                                  error_type="illegal_argument_exception")
            raise BadRequest(f"no handler found for uri [{req.path}] and method "
                             f"[{req.method}]")
        ignored = check_params(req.path, req.params, route.method, tuple(route.segments),
                               route.params | GLOBAL_PARAMS)
        req.path_params = found
        with collecting() as deprecations:
            response = route.handler(req)
        warnings = [f'299 Elasticsearch-{VERSION} "{escape_warning(m)}"' for m in deprecations]
        if ignored:
            warnings.append(ignored_warning(ignored, VERSION))
        if warnings:
            earlier = response.headers.get("Warning")
            response.headers["Warning"] = ", ".join([earlier, *warnings] if earlier else warnings)
        return response
