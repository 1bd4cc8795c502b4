"""The HTTP/1.1 request handler: reads a request, dispatches it, writes an ES-shaped response."""

from __future__ import annotations

import gzip
import json
import logging
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..errors import ContentTooLarge, EngineError
from .filter_path import apply_filter_path
from .rest import RestRequest, RestResponse

if TYPE_CHECKING:
    from ..app import EngineApp

log = logging.getLogger("es_rag.engine")
_ACCEPTED_TYPES = ("application/json", "application/x-ndjson",
                   "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson",
                   "text/plain", "application/x-www-form-urlencoded", "application/smile",
                   "application/yaml", "application/cbor")


class EngineRequestHandler(BaseHTTPRequestHandler):
    """Serves one keep-alive connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    app: EngineApp
    max_content_length: int

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug(format, *args)

    def _handle(self) -> None:
        compat = self._compat_media_type()
        try:
            request = self._read_request()
            response = self.app.dispatch(request)
        except EngineError as err:
            response = RestResponse(err.body(), err.status)
            request = None
        except (Exception, BaseException) as err:  # noqa: B036 - tantivy panics are BaseException
            if isinstance(err, KeyboardInterrupt | SystemExit):
                raise
            log.exception("unhandled error")
            body = EngineError(f"{type(err).__name__}: {err}").body()
            if self._error_trace():
                body["error"]["stack_trace"] = traceback.format_exc()
            response = RestResponse(body, 500)
            request = None
        self._write(response, request, compat)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    def _error_trace(self) -> bool:
        return "error_trace=true" in self.path

    def _compat_media_type(self) -> str | None:
        for header in ("Accept", "Content-Type"):
            value = self.headers.get(header, "")
            if "vnd.elasticsearch" in value:
                for part in value.split(";"):
                    part = part.strip()
                    if part.startswith("compatible-with="):
                        return part.split("=", 1)[1]
        return None

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > self.max_content_length:
                    self.close_connection = True
                    raise ContentTooLarge(f"Request content is larger than the allowed limit "
                                          f"[{self.max_content_length}]")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > self.max_content_length:
                self.close_connection = True
                raise ContentTooLarge(f"Request content is larger than the allowed limit "
                                      f"[{self.max_content_length}] bytes ({length} bytes)")
            data = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip" and data:
            data = gzip.decompress(data)
        return data

    def _read_request(self) -> RestRequest:
        body = self._read_body()
        content_type = self.headers.get("Content-Type", "")
        if body and content_type and not content_type.split(";")[0].strip().lower().startswith(
                _ACCEPTED_TYPES):
            raise EngineError(f"Content-Type header [{content_type}] is not supported",
                              status=406, error_type="media_type_header_exception")
        compat = self._compat_media_type()
        if compat is not None and compat not in ("8", "9"):
            raise EngineError(f"A compatible version is required on both Content-Type and "
                              f"Accept headers if either one has requested a compatible version "
                              f"and the compatible versions must match. Accept="
                              f"{self.headers.get('Accept')}, Content-Type={content_type}",
                              status=400, error_type="media_type_header_exception")
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RestRequest(self.command, url.path or "/", params, body, headers,
                           remote_address=self.client_address[0])

    def _write(self, response: RestResponse, request: RestRequest | None, compat: str | None
               ) -> None:
        params = request.params if request is not None else \
            dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
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
                payload = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
            content_type = (f"application/vnd.elasticsearch+json;compatible-with={compat}"
                            if compat else "application/json")
        self.send_response(response.status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", content_type)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
