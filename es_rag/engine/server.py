"""`EngineServer`: the embedded engine served over HTTP by waitress on a background thread.

waitress reads requests on one event loop and runs them on a bounded pool of worker threads,
so idle connections hold a socket, not a thread; it closes connections idle or stalled for
`engine.http.idle_timeout`, stops accepting beyond `engine.http.connection_limit` open
connections, and refuses bodies beyond `http.max_content_length` and malformed framing
(`Content-Length`, chunked encoding) before the application sees them, answered here with
Elasticsearch's error body.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import threading
from pathlib import Path
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from .app import EngineApp
from .errors import EngineError
from .http.body import too_large
from .http.wsgi import EngineWsgi, error_payload
from .limits import Limits

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_STOP_TIMEOUT = 10.0


def is_loopback(host: str) -> bool:
    """Whether a host name or address only listens on this machine."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ErrorTask(ErrorTask):
    """waitress's answer to a request it cannot parse, with Elasticsearch's error body."""

    def execute(self) -> None:
        error = self.request.error
        limit = self.channel.adj.max_request_body_size
        if error.code == 413:
            engine_error = too_large(limit)
        elif error.code >= 500:
            engine_error = EngineError("the engine failed to serve the request",
                                       status=error.code)
        else:
            engine_error = EngineError(f"invalid HTTP request: {error.body}", status=error.code,
                                       error_type="illegal_argument_exception")
        headers, payload = error_payload(engine_error)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(payload)
        self.write(payload)


class _Channel(HTTPChannel):
    error_task_class = _ErrorTask


class _Server(TcpWSGIServer):
    channel_class = _Channel


class EngineServer:
    """An Elasticsearch-compatible single node on `host:port` storing data in `data_dir`.

    >>> server = EngineServer(Path("/tmp/data"), port=0).start()
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:41234'
    >>> server.stop()
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0, *,
                 allow_remote: bool = False, max_content_length: int | None = None,
                 security: bool = True, elastic_password: str | None = None,
                 limits: Limits | None = None) -> None:
        if not is_loopback(host) and not (allow_remote and security):
            raise ValueError(f"refusing to bind the engine to non-loopback host [{host}]: "
                             f"that needs allow_remote=True, with security on")
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        if max_content_length is not None:
            self.limits = dataclasses.replace(self.limits, max_content_length=max_content_length)
        self.security = security
        self.elastic_password = elastic_password
        self.app: EngineApp | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://host:port` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EngineServer:
        """Open the data directory, bind and serve in background threads."""
        self.app = EngineApp(self.data_dir, security=self.security,
                             elastic_password=self.elastic_password)
        limits = self.limits
        adjustments = Adjustments(
            host=self.host, port=self.port, ipv4=":" not in self.host, ipv6=":" in self.host,
            threads=limits.http_threads, connection_limit=limits.http_connection_limit,
            channel_timeout=limits.http_idle_timeout,
            cleanup_interval=max(1, limits.http_idle_timeout // 4),
            max_request_body_size=limits.max_content_length, ident="",
            clear_untrusted_proxy_headers=False, asyncore_use_poll=True)
        socket_map: dict[int, Any] = {}
        try:
            self._server = _Server(EngineWsgi(self.app, limits), socket_map, adj=adjustments)
        except OSError:
            for dispatcher in list(socket_map.values()):
                dispatcher.close()
            self.app.close()
            raise
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._serve, args=(self._server,), daemon=True,
                                        name="engine-http")
        self._thread.start()
        return self

    def _serve(self, server: _Server) -> None:
        try:
            server.run()
        except OSError:
            # stop() closes every socket from the loop's own thread; a poll that still held a
            # closed descriptor ends the loop with EBADF, which is the shutdown, not a fault
            if self._server is server:
                raise

    def serve_forever(self) -> None:
        """Block until `stop` is called from another thread (or the process is interrupted)."""
        assert self._thread is not None
        self._thread.join()

    def stop(self) -> None:
        """Stop serving and flush everything to disk."""
        server, self._server = self._server, None
        if server is not None:
            socket_map = server._map

            def close_all() -> None:  # runs on the event loop's thread; the loop then ends
                for dispatcher in list(socket_map.values()):
                    with contextlib.suppress(OSError):
                        if isinstance(dispatcher, HTTPChannel):
                            dispatcher.handle_close()
                        else:
                            dispatcher.close()

            with contextlib.suppress(OSError):  # the loop already ended: nothing to close
                server.trigger.pull_trigger(close_all)
            if self._thread is not None:
                self._thread.join(_STOP_TIMEOUT)
            server.task_dispatcher.shutdown(timeout=_STOP_TIMEOUT)
        if self.app is not None:
            self.app.close()
            self.app = None
