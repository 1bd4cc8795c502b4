"""Resource bounds of the embedded engine, measured on loopback against a fresh engine process:
threads held by idle connections, and peak RSS (VmHWM) after a gzip bomb (unauthenticated,
then authenticated) and after a huge `match` query.

Usage: python bench/engine_bounds.py [--idle 400] [--bomb-mb 1] [--match-mb 50]
                                     [--source DIR]
`--source` runs the engine from another checkout (to measure before/after a change).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "bounds-bench-password"
AUTH = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
REPO_ROOT = Path(__file__).resolve().parents[1]


def status_field(pid: int, name: str) -> int:
    """A number from /proc/<pid>/status (`Threads`, `VmRSS`/`VmHWM` in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def start_engine(source: Path, data: Path) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    code = ("import sys, signal, threading; from pathlib import Path; "
            "from es_rag.engine.server import EngineServer; "
            f"s = EngineServer(Path({str(data)!r}), port=0, elastic_password={PASSWORD!r})"
            ".start(); print(s.port, flush=True); done = threading.Event(); "
            "signal.signal(signal.SIGTERM, lambda *_: done.set()); done.wait(); s.stop()")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=source,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def send(port: int, method: str, path: str, body: bytes, headers: dict[str, str],
         timeout: float = 600) -> int:
    """One request on its own connection; the status code (0 when the connection failed)."""
    head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            answer = sock.recv(64)
    except OSError:
        return 0
    return int(answer.split()[1]) if answer.startswith(b"HTTP/") else 0


def mb(kilobytes: int) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=400, help="idle connections to open")
    parser.add_argument("--bomb-mb", type=float, default=1.0, help="compressed size of the bomb")
    parser.add_argument("--match-mb", type=float, default=50.0, help="size of the match text")
    parser.add_argument("--source", type=Path, default=REPO_ROOT, help="checkout to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_engine(args.source.resolve(), Path(tmp))
        try:
            pid = proc.pid
            auth = {"Authorization": AUTH, "Content-Type": "application/json"}
            send(port, "PUT", "/docs", b'{"mappings": {"properties": {"t": {"type": "text"}}}}',
                 auth)
            send(port, "PUT", "/docs/_doc/1?refresh=true", b'{"t": "hello world"}', auth)
            print(f"engine from {args.source}: {status_field(pid, 'Threads')} threads, RSS "
                  f"{mb(status_field(pid, 'VmRSS'))} at rest")

            threads = status_field(pid, "Threads")
            sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(args.idle)]
            time.sleep(1.0)
            held = status_field(pid, "Threads") - threads
            answered = send(port, "GET", "/", b"", auth, timeout=30)
            for sock in sockets:
                sock.close()
            print(f"{args.idle} idle connections: +{held} threads; a request meanwhile: "
                  f"HTTP {answered}")

            words = int(args.match_mb * 1024 * 1024 / 6)
            text = " ".join(f"w{i % 100000:05d}" for i in range(words))
            body = json.dumps({"query": {"match": {"t": text}}}).encode()
            before = status_field(pid, "VmHWM")
            started = time.perf_counter()
            code = send(port, "POST", "/docs/_search", body, auth)
            print(f"match of {len(body) / 1048576:.0f} MB ({words:,} words): HTTP {code} in "
                  f"{time.perf_counter() - started:.1f} s, peak RSS {mb(before)} -> "
                  f"{mb(status_field(pid, 'VmHWM'))}")
            # zeros compress about 1000:1, so N MB of gzip stand for about N GB of body
            bomb = gzip.compress(bytes(int(args.bomb_mb * 1024 * 1024 * 1000)), 9)
            gz = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
            for label, headers in (("unauthenticated", gz), ("authenticated", {**gz, **auth})):
                before = status_field(pid, "VmHWM")
                code = send(port, "POST", "/docs/_search", bomb, headers)
                print(f"gzip bomb {len(bomb) / 1048576:.1f} MB -> {args.bomb_mb:.1f} GB, "
                      f"{label}: HTTP {code}, peak RSS {mb(before)} -> "
                      f"{mb(status_field(pid, 'VmHWM'))}")

        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
