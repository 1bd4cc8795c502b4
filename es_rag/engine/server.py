"""`EngineServer`: the embedded engine served over HTTP on a background thread."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from .app import EngineApp
from .http.handler import EngineRequestHandler

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    """Whether a host name or address only listens on this machine."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class EngineServer:
    """An Elasticsearch-compatible single node on `host:port` storing data in `data_dir`.

    >>> server = EngineServer(Path("/tmp/data"), port=0).start()
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:41234'
    >>> server.stop()
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0, *,
                 allow_remote: bool = False, max_content_length: int = 100 * 1024 * 1024,
                 security: bool = True, elastic_password: str | None = None) -> None:
        if not is_loopback(host) and not (allow_remote and security):
            raise ValueError(f"refusing to bind the engine to non-loopback host [{host}]: "
                             f"that needs allow_remote=True, with security on")
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.max_content_length = max_content_length
        self.security = security
        self.elastic_password = elastic_password
        self.app: EngineApp | None = None
        self._httpd: _Server | None = None
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
        handler = type("Handler", (EngineRequestHandler,),
                       {"app": self.app, "max_content_length": self.max_content_length})
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_cls = type("Server", (_Server,), {"address_family": family})
        try:
            self._httpd = server_cls((self.host, self.port), handler)
        except OSError:
            self.app.close()
            raise
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="engine-http")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until `stop` is called from another thread (or the process is interrupted)."""
        assert self._thread is not None
        self._thread.join()

    def stop(self) -> None:
        """Stop serving and flush everything to disk."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self.app is not None:
            self.app.close()
            self.app = None
