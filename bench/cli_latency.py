"""Wall time of `es-rag search --mode knn` in fresh processes, and where a process spends it.

```
.venv/bin/python bench/cli_latency.py                      # 10 runs, backend onnx-int8
.venv/bin/python bench/cli_latency.py --runs 20 --backends onnx-int8,torch
```

Starts the embedded engine (`es-rag engine start`, security on, a free port, a temporary copy of
the project's assets and docs), runs `es-rag demo` once (apply, ingest docs/ and README.md,
which also exports the ONNX model if no export is cached), then times `--runs` fresh
`es-rag search --mode knn QUERY` processes per backend: median and min wall time, median CPU
time (user + system of the child), the 1-minute load average. Python's bytecode cache is on (in
a temporary `PYTHONPYCACHEPREFIX`) and one untimed run warms it, as an installed package has
its bytecode compiled. Then, for the first backend, one run with `-X importtime` (import time
per top-level package, self time summed; whether torch, transformers, sentence-transformers
were imported) and one under cProfile (cumulative time of the phases: importing the command
line, connecting, reading the retrieval parameters, loading the embedder, embedding the query,
the search request). The engine is stopped at the end. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("README.md", "docs", "mappings", "pipelines", "templates", "roles", "inference")
QUERY = "how are passages embedded for kNN search"
HEAVY = ("torch", "transformers", "sentence_transformers")
PHASES = {  # (file suffix, function) of what the cProfile run reports, cumulative
    "import es_rag.cli": ("es_rag/cli/__init__.py", "<module>"),
    "connect (engine url, info, license, features)": ("es_rag/connect.py", "connect"),
    "retrieval parameters (read_stored)": ("es_rag/retrieve/defaults.py", "read_stored"),
    "load embedder (local_embedder)": ("es_rag/embedding/factory.py", "local_embedder"),
    "  of which the ONNX session": ("es_rag/embedding/onnx_model.py", "onnx_session"),
    "embed the query": ("es_rag/embedding/onnx_model.py", "embed_query"),
    "search (request + hits)": ("es_rag/retrieve/search.py", "search"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def es_rag(args: list[str], env: dict[str, str], cwd: Path,
           python: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *(python or []), "-m", "es_rag", *args]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.strip()[-2000:]}")
    return done


def timed_runs(env: dict[str, str], cwd: Path, runs: int) -> dict[str, Any]:
    """Median/min wall and median CPU of `runs` fresh knn searches (after one warm-up)."""
    args = ["search", "--mode", "knn", "--json", QUERY]
    hits = len(json.loads(es_rag(args, env, cwd).stdout)["hits"])
    walls, cpus, loads = [], [], []
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        es_rag(args, env, cwd)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return {"wall_s_median": round(statistics.median(walls), 3),
            "wall_s_min": round(min(walls), 3),
            "cpu_s_median": round(statistics.median(cpus), 3), "runs": runs, "hits": hits,
            "load_avg_1m_mean": round(statistics.mean(loads), 2)}


def import_breakdown(env: dict[str, str], cwd: Path, top: int) -> dict[str, Any]:
    """Self import time per top-level package of one run (`-X importtime`), largest first."""
    done = es_rag(["search", "--mode", "knn", QUERY], env, cwd, ["-X", "importtime"])
    per_package: dict[str, int] = defaultdict(int)
    modules = set()
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", line)
        if found:
            module = found.group(4)
            modules.add(module)
            per_package[module.split(".")[0]] += int(found.group(1))
    ranked = sorted(per_package.items(), key=lambda kv: -kv[1])
    return {"total_ms": round(sum(per_package.values()) / 1000, 1),
            "modules": len(modules),
            "by_package_ms": {name: round(us / 1000, 1) for name, us in ranked[:top]},
            "imported": {name: name in modules for name in (*HEAVY, "onnxruntime", "numpy")}}


def phase_breakdown(env: dict[str, str], cwd: Path, scratch: Path) -> dict[str, float]:
    """Cumulative ms of each phase in one run under cProfile (the profiler adds overhead)."""
    profile = scratch / "search.prof"
    es_rag(["search", "--mode", "knn", QUERY], env, cwd, ["-m", "cProfile", "-o", str(profile)])
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in stats.values())
    out = {"total (profiled)": round(total * 1000, 1)}
    for label, (suffix, function) in PHASES.items():
        cumulative = sum(entry[3] for (path, _, name), entry in stats.items()
                         if path.endswith(suffix) and name == function)
        out[label] = round(cumulative * 1000, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed fresh processes per backend")
    parser.add_argument("--backends", default="onnx-int8",
                        help="embedding_backend values to time, comma-separated")
    parser.add_argument("--top", type=int, default=12, help="packages listed by import time")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="es-rag-cli-latency-"))
    project = scratch / "project"
    project.mkdir()
    for name in COPIED:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name,
                                                                      project / name)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ES_RAG_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(ES_RAG_DATA=str(project / ".es-rag"), ES_RAG_ENGINE_PORT=str(free_port()),
               ES_RAG_ASSETS=str(project), PYTHONPYCACHEPREFIX=str(scratch / "pycache"))
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "query": QUERY}
    try:
        es_rag(["engine", "start"], env, project)
        started = time.perf_counter()
        es_rag(["demo"], env, project)
        figures["demo_s"] = round(time.perf_counter() - started, 1)
        for backend in [b for b in args.backends.split(",") if b]:
            run_env = {**env, "ES_RAG_EMBEDDING_BACKEND": backend}
            figures[f"search --mode knn, {backend}"] = timed_runs(run_env, project, args.runs)
        first = {**env, "ES_RAG_EMBEDDING_BACKEND": args.backends.split(",")[0]}
        figures["import time"] = import_breakdown(first, project, args.top)
        figures["phases ms"] = phase_breakdown(first, project, scratch)
    finally:
        subprocess.run([sys.executable, "-m", "es_rag", "engine", "stop"], env=env, cwd=project,
                       capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    figures["load_avg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for section, values in figures.items():
        print(f"{section}: {json.dumps(values, indent=1) if isinstance(values, dict) else values}")


if __name__ == "__main__":
    main()
