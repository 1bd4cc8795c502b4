"""`python -m es_rag.engine --data DIR [--port N] [--host H]`: run the engine in the foreground."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from pathlib import Path

from .daemon import URL_FILE
from .limits import Limits, with_settings
from .security import PASSWORD_FILE
from .server import EngineServer
from .storage.private import restrict_umask


def _setting(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"a setting is NAME=VALUE, got [{item}]")
    return name.strip(), value.strip()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; prints one line with the URL when ready."""
    parser = argparse.ArgumentParser(prog="python -m es_rag.engine",
                                     description="Embedded Elasticsearch-compatible engine")
    parser.add_argument("--data", required=True, type=Path, help="data directory")
    parser.add_argument("--port", type=int, default=9200, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding a non-loopback address")
    parser.add_argument("--max-content-length", type=int, default=None,
                        help="largest accepted request body in bytes (http.max_content_length)")
    parser.add_argument("-E", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                        help="a node setting, as Elasticsearch's -E (http.max_content_length, "
                             "indices.query.bool.max_clause_count, search.max_buckets, ...; "
                             "see es_rag/engine/limits.py)")
    parser.add_argument("--no-security", action="store_true",
                        help="serve without authentication (loopback only; for development)")
    args = parser.parse_args(argv)
    restrict_umask()
    try:
        limits = with_settings(Limits(), dict(_setting(item) for item in args.settings))
        server = EngineServer(args.data, args.host, args.port, allow_remote=args.allow_remote,
                              max_content_length=args.max_content_length,
                              security=not args.no_security, limits=limits).start()
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            print(f"error: port {args.port} on {args.host} is already in use (another engine or "
                  f"Elasticsearch?): stop it, or choose another port (--port; for es-rag, "
                  f"ES_RAG_ENGINE_PORT)", file=sys.stderr)
        else:
            print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    url_file = args.data / URL_FILE
    tmp = url_file.with_suffix(".tmp")
    tmp.write_text(server.url)
    os.replace(tmp, url_file)
    gate = server.app.gate if server.app else None
    if gate is not None and gate.security.store.bootstrap_password:
        print(_bootstrap_notice(gate.security.store.bootstrap_password, args.data / PASSWORD_FILE),
              flush=True)
    print(f"es-rag engine listening on {server.url}", flush=True)
    done.wait()
    server.stop()
    url_file.unlink(missing_ok=True)
    return 0


def _bootstrap_notice(password: str, password_file: Path) -> str:
    """The first start's line about the generated `elastic` password: the password itself only
    when standard output is a terminal, never into a log file or pipe."""
    if sys.stdout.isatty():
        return (f"generated the password of the 'elastic' superuser: {password} "
                f"(stored in {password_file})")
    return (f"generated the password of the 'elastic' superuser: stored in {password_file} "
            f"(readable by this user only)")


if __name__ == "__main__":
    sys.exit(main())
