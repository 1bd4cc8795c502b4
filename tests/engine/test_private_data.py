"""The engine's data directory is private: folders 0700, files 0600, no password in its log."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from elasticsearch import Elasticsearch

from es_rag import run_records
from es_rag.engine.server import EngineServer

ES_RAG = [sys.executable, "-m", "es_rag"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _es_rag(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ES_RAG, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def _modes(root: Path) -> dict[str, int]:
    """Permission bits of the root and of every folder and file under it (not links)."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        try:
            if not path.is_symlink():
                found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:  # a temporary file the engine just replaced
            continue
    return found


def _not_private(root: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in _modes(root).items()
            if mode != (0o700 if (root / name).is_dir() else 0o600)}


def test_a_started_engine_keeps_every_file_private_and_its_password_out_of_the_log(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"ES_RAG_DATA": str(data), "ES_RAG_ENGINE_PORT": str(_free_port())}
    started = _es_rag("engine", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        password = (data / "elastic-password").read_text().strip()
        assert password in started.stdout  # told once, on the terminal of who started it
        client = Elasticsearch(started.stdout.split()[3], basic_auth=("elastic", password))
        client.indices.create(index="secret-docs", mappings={"properties": {
            "text": {"type": "text"},
            "vec": {"type": "dense_vector", "dims": 3, "similarity": "cosine"}}})
        client.bulk(refresh=True, operations=[
            op for i in range(20) for op in (
                {"index": {"_index": "secret-docs", "_id": str(i)}},
                {"text": f"salary of employee {i}", "vec": [1.0, float(i), 2.0]})])
        assert client.search(index="secret-docs", query={"match": {"text": "salary"}},
                             knn={"field": "vec", "query_vector": [1, 2, 3], "k": 3,
                                  "num_candidates": 10})["hits"]["total"]["value"] > 0
        files = {p.name for p in data.rglob("*")}
        assert {"docs.sqlite", "docs.sqlite-wal", "engine.log", "security.json"} <= files
        assert _not_private(data) == {}  # while running: SQLite's WAL and SHM included
        client.close()
    finally:
        _es_rag("engine", "stop", env=env)
    assert _not_private(data) == {}
    assert password not in (data / "engine.log").read_text()


def test_the_engine_process_prints_no_password_into_a_pipe(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "es_rag.engine", "--data", str(tmp_path),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    password = (tmp_path / "elastic-password").read_text().strip()
    assert first.startswith("generated the password") and "listening on" in second
    assert password not in first + second
    assert str(tmp_path / "elastic-password") in first


def test_a_data_directory_made_before_is_tightened_when_the_engine_opens_it(
        tmp_path: Path) -> None:
    data = tmp_path / "old-data"
    (data / "indices" / "abc").mkdir(parents=True, mode=0o755)
    (data / "indices" / "abc" / "docs.sqlite-wal").write_text("")
    os.chmod(data / "indices" / "abc" / "docs.sqlite-wal", 0o644)
    os.chmod(data, 0o755)
    outside = tmp_path / "not-engine-data.txt"
    outside.write_text("left alone")
    os.chmod(outside, 0o644)
    (data / "link").symlink_to(outside)
    server = EngineServer(data, port=0).start()
    server.stop()
    modes = _modes(data)
    assert [modes[name] for name in (".", "indices", "indices/abc")] == [0o700] * 3
    assert modes["indices/abc/docs.sqlite-wal"] == 0o600
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


def test_es_rag_run_records_are_private(tmp_path: Path) -> None:
    path = run_records.write_record(tmp_path / ".es-rag", "eval", {"ndcg@10": 0.5})
    assert _not_private(tmp_path / ".es-rag") == {}
    assert path.exists()
