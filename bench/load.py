"""Load test: N concurrent clients for T seconds against `/api/search` and the engine's `_search`.

```
.venv/bin/python bench/load.py                            # 50 clients, 60 s per phase
.venv/bin/python bench/load.py --clients 10 --seconds 10  # quick run while developing
.venv/bin/python bench/load.py --api-url http://127.0.0.1:8000 \\
    --engine-url http://127.0.0.1:9200 --password PASSWORD   # servers already running
```

Without URLs it starts the embedded engine (`python -m es_rag.engine`, security on, on a
temporary data directory), loads the project's docs with `es-rag demo`, and starts `es-rag serve`,
all on 127.0.0.1 with free ports, and stops them at the end. Every request authenticates as
`elastic` (Basic). Phases: `api-bm25` and `api-hybrid` (`POST /api/search`, mode bm25 / hybrid)
and `engine` (`POST /<index>/_search` with the BM25 body es-rag sends). Each client sends one
request after another over its own keep-alive connection, cycling through varied questions.

Prints per phase: requests, errors (by status), requests per second, p50/p95/p99 latency, and
the resident memory (peak and end, sampled every second) of the API and engine processes, with
the machine's load average (the load generator shares the machine with the servers). Loopback
only, at most 200 clients and 600 s per phase; it never asserts a figure.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

MAX_CLIENTS = 200
MAX_SECONDS = 600
INDEX = "chunks"
QUESTIONS = [
    "What is reciprocal rank fusion?", "How does es-rag apply mappings?",
    "Which embedding model is the default?", "How are passages chunked?",
    "What does the admin UI let me tune?", "How is document-level security enforced?",
    "Which license does RRF need?", "How do I run the embedded engine?",
    "What does the extractive answerer do?", "How are citations checked?",
    "What is the rank constant?", "How do I evaluate retrieval quality?",
    "Where are search templates stored?", "How does hybrid search work?",
    "What happens when a document fails to parse?", "How are API keys used per user?",
    "What does es-rag ingest skip?", "How do I point es-rag at my cluster?",
    "What is num_candidates?", "How are judgments recorded?",
    "Which Elasticsearch versions are supported?", "How are prompts templated?",
    "What is the chunk overlap?", "How does the engine store documents?",
    "How are ingest pipelines applied?", "What does the health endpoint report?",
    "How do I stream an answer?", "What is kept in the data directory?",
    "How are roles applied?", "What does tuning change?", "How is BM25 scored?",
    "What does the playground show?",
]


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    rss_mb: dict[str, tuple[float, float]] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)

    def figures(self) -> dict[str, object]:
        """The phase's figures as a flat dict (latencies of successful requests)."""
        ok = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        requests = len(self.latencies_ms) + sum(self.errors.values())
        return {"phase": self.name, "requests": requests, "errors": sum(self.errors.values()),
                "errors_by_kind": dict(self.errors),
                "req_per_s": round(requests / self.seconds, 1) if self.seconds else 0.0,
                **{f"p{p}_ms": round(float(np.percentile(ok, p)), 1) for p in (50, 95, 99)},
                **{f"rss_{name}_mb_peak_end": list(v) for name, v in self.rss_mb.items()},
                "load_avg_1m_start_end": list(self.load)}


@dataclass(frozen=True)
class Target:
    """Where a phase sends requests: host, port, path and the body for question i."""

    url: str
    path: str
    body: Callable[[str], dict]


def _loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"error: {url} is not a loopback address; this load test only runs "
                         "against servers on this machine")
    return host, port


def _rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_phase(name: str, target: Target, auth: str, clients: int, seconds: float,
              pids: dict[str, int | None]) -> Phase:
    """`clients` threads sending requests to `target` for `seconds`; RSS sampled each second."""
    host, port = _loopback(target.url)
    phase = Phase(name)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        i = number
        start.wait()
        while not stop.is_set():
            payload = json.dumps(target.body(QUESTIONS[i % len(QUESTIONS)])).encode()
            i += clients
            t0 = time.perf_counter()
            try:
                conn.request("POST", target.path, payload, {
                    "Authorization": auth, "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors[str(response.status)] += 1
            except (OSError, http.client.HTTPException) as exc:
                errors[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.close()
        with lock:
            phase.latencies_ms.extend(latencies)
            phase.errors.update(errors)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    samples: dict[str, list[float]] = {k: [] for k, pid in pids.items() if pid is not None}
    load_start = os.getloadavg()[0]
    start.wait()
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        time.sleep(min(1.0, max(0.0, seconds - (time.perf_counter() - began))))
        for key in samples:
            value = _rss_mb(pids[key])
            if value is not None:
                samples[key].append(value)
    stop.set()
    for thread in threads:
        thread.join(90)
    phase.seconds = time.perf_counter() - began
    phase.rss_mb = {k: (round(max(v), 1), round(v[-1], 1)) for k, v in samples.items() if v}
    phase.load = (round(load_start, 2), round(os.getloadavg()[0], 2))
    return phase


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    host, port = _loopback(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"error: nothing answered at {url} within {timeout:.0f} s")


@contextmanager
def started_servers(log: Path) -> Iterator[tuple[str, str, str, dict[str, int | None]]]:
    """The engine (fresh data dir) with the project's docs loaded, and `es-rag serve`."""
    with tempfile.TemporaryDirectory(prefix="es-rag-load-") as tmp:
        data = Path(tmp) / "engine"
        with open(log, "ab") as out:
            engine = subprocess.Popen(
                [sys.executable, "-m", "es_rag.engine", "--data", str(data), "--port", "0"],
                stdout=subprocess.PIPE, stderr=out, text=True)
            api = None
            try:
                line = ""
                while "listening on" not in line:
                    line = engine.stdout.readline()
                    if not line and engine.poll() is not None:
                        raise SystemExit(f"error: the engine did not start; see {log}")
                engine_url = line.rsplit(" ", 1)[1].strip()
                password = (data / "elastic-password").read_text().strip()
                env = {**os.environ, "ES_RAG_URL": engine_url, "ES_RAG_USER": "elastic",
                       "ES_RAG_PASSWORD": password, "ES_RAG_INDEX": INDEX}
                print("loading the project's docs (es-rag demo) ...", file=sys.stderr)
                subprocess.run([sys.executable, "-m", "es_rag", "demo"], env=env, check=True,
                               stdout=out, stderr=out, timeout=900)
                api_url = f"http://127.0.0.1:{_free_port()}"
                api = subprocess.Popen(  # searches run with each request's own credentials
                    [sys.executable, "-m", "es_rag", "serve", "--host", "127.0.0.1",
                     "--port", api_url.rsplit(":", 1)[1]], env=env, stdout=out, stderr=out)
                _wait_http(api_url, 120)
                yield api_url, engine_url, password, {"api": api.pid, "engine": engine.pid}
            finally:
                for proc in (api, engine):
                    if proc is not None and proc.poll() is None:
                        proc.terminate()
                        proc.wait(60)


def _warm_up(target: Target, auth: str) -> None:
    """A few requests first (the API loads its embedding model on the first hybrid search)."""
    host, port = _loopback(target.url)
    conn = http.client.HTTPConnection(host, port, timeout=300)
    for question in QUESTIONS[:3]:
        conn.request("POST", target.path, json.dumps(target.body(question)).encode(),
                     {"Authorization": auth, "Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"error: warm-up request to {target.url}{target.path} answered "
                             f"{response.status}: {body[:300]!r}")
    conn.close()


@contextmanager
def nullcontext_servers(api_url: str, engine_url: str, password: str,
                        pids: dict[str, int | None]
                        ) -> Iterator[tuple[str, str, str, dict[str, int | None]]]:
    """Servers that already run: nothing to start or stop."""
    yield api_url, engine_url, password, pids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (<= 200)")
    parser.add_argument("--seconds", type=float, default=60, help="seconds per phase (<= 600)")
    parser.add_argument("--phases", default="api-bm25,api-hybrid,engine",
                        help="comma-separated: api-bm25, api-hybrid, engine")
    parser.add_argument("--api-url", help="a running `es-rag serve` (else one is started)")
    parser.add_argument("--engine-url", help="a running engine (else one is started)")
    parser.add_argument("--user", default="elastic")
    parser.add_argument("--password", help="password of --user (with the URLs)")
    parser.add_argument("--api-pid", type=int, help="pid of the running API (for its RSS)")
    parser.add_argument("--engine-pid", type=int, help="pid of the running engine (its RSS)")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) /
                        "es-rag-load.log", help="where started servers write their output")
    parser.add_argument("--json", action="store_true", help="last line: the figures as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--clients must be 1..{MAX_CLIENTS} and --seconds 0..{MAX_SECONDS}")
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"api-bm25", "api-hybrid", "engine"}
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    if bool(args.api_url) != bool(args.engine_url) or (args.api_url and not args.password):
        parser.error("give --api-url, --engine-url and --password together, or none of them")
    if args.api_url:
        servers = nullcontext_servers(args.api_url, args.engine_url, args.password,
                                      {"api": args.api_pid, "engine": args.engine_pid})
    else:
        servers = started_servers(args.log)
    from es_rag.retrieve import SearchParams
    from es_rag.retrieve.queries import bm25_body

    results = []
    with servers as (api_url, engine_url, password, pids):
        auth = "Basic " + base64.b64encode(f"{args.user}:{password}".encode()).decode()
        targets = {
            "api-bm25": Target(api_url, "/api/search",
                               lambda q: {"query": q, "mode": "bm25"}),
            "api-hybrid": Target(api_url, "/api/search",
                                 lambda q: {"query": q, "mode": "hybrid"}),
            "engine": Target(engine_url, f"/{INDEX}/_search",
                             lambda q: bm25_body(q, SearchParams())),
        }
        for name in phases:
            _warm_up(targets[name], auth)
            print(f"{name}: {args.clients} clients for {args.seconds:g} s ...", file=sys.stderr)
            phase = run_phase(name, targets[name], auth, args.clients, args.seconds, pids)
            results.append(phase.figures())
            _print(results[-1])
    if args.json:
        print(json.dumps({"clients": args.clients, "seconds": args.seconds,
                          "cores": os.cpu_count(), "phases": results}))
    return 0


def _print(figures: dict[str, object]) -> None:
    rss = "  ".join(f"{k.removeprefix('rss_').removesuffix('_mb_peak_end')} RSS "
                    f"{v[0]:.0f}/{v[1]:.0f} MB (peak/end)"
                    for k, v in figures.items() if k.startswith("rss_"))
    errors = figures["errors_by_kind"] or {}
    print(f"{figures['phase']:11} requests {figures['requests']:6}  errors {figures['errors']}"
          f"{' ' + json.dumps(errors) if errors else ''}  {figures['req_per_s']:7} req/s  "
          f"p50 {figures['p50_ms']} ms  p95 {figures['p95_ms']} ms  p99 {figures['p99_ms']} ms"
          f"  {rss}  load {figures['load_avg_1m_start_end'][0]}->"
          f"{figures['load_avg_1m_start_end'][1]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
