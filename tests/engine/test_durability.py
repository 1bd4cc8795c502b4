"""Crash safety: every write acknowledged before `kill -9` is there after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk


@contextmanager
def engine_process(data_dir: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m es_rag.engine` on a free port; yields the process and its URL, which carries
    the `elastic` login the engine stored on first start."""
    proc = subprocess.Popen([sys.executable, "-m", "es_rag.engine", "--data", str(data_dir),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        line = proc.stdout.readline()
        if line.startswith("generated the password"):
            line = proc.stdout.readline()
        assert "listening on" in line, line
        password = (data_dir / "elastic-password").read_text().strip()
        yield proc, line.rsplit(" ", 1)[1].strip().replace("http://", f"http://elastic:{password}@")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    acknowledged: list[str] = []
    stop = threading.Event()
    with engine_process(tmp_path) as (proc, url):
        client = Elasticsearch(url, request_timeout=30)
        client.indices.create(index="chunks", mappings={"properties": {
            "text": {"type": "text"},
            "vec": {"type": "dense_vector", "dims": 4, "similarity": "cosine"}}})

        def writer() -> None:
            batch = 0
            while not stop.is_set():
                ids = [f"{batch}-{i}" for i in range(50)]
                try:
                    ok, _ = bulk(client, ({"_index": "chunks", "_id": doc_id,
                                           "text": f"chunk {doc_id}",
                                           "vec": [1.0, batch % 7 + 1.0, n + 1.0, 1.0]}
                                          for n, doc_id in enumerate(ids)))
                except Exception:  # noqa: BLE001 - the process was killed mid-request
                    return
                if ok == len(ids):
                    acknowledged.extend(ids)
                batch += 1

        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        thread.join(timeout=30)
    assert len(acknowledged) >= 300
    with engine_process(tmp_path) as (_, url):
        client = Elasticsearch(url, request_timeout=30)
        found = set()
        for start in range(0, len(acknowledged), 500):
            docs = client.mget(index="chunks", ids=acknowledged[start:start + 500])["docs"]
            found.update(d["_id"] for d in docs if d["found"])
        assert found == set(acknowledged)
        client.indices.refresh(index="chunks")
        assert client.count(index="chunks")["count"] >= len(acknowledged)
        hits = client.search(index="chunks", knn={"field": "vec", "query_vector": [1, 1, 1, 1],
                                                  "k": 5, "num_candidates": 20})
        assert len(hits["hits"]["hits"]) == 5
        text = client.search(index="chunks", query={"match": {"text": acknowledged[0]}})
        assert text["hits"]["hits"][0]["_id"] == acknowledged[0]


def test_clean_restart_reopens_without_reindexing(tmp_path: Path) -> None:
    with engine_process(tmp_path) as (_, url):
        client = Elasticsearch(url)
        client.index(index="notes", id="1", document={"text": "kept across restarts"},
                     refresh=True)
    checkpoint = (next((tmp_path / "indices").iterdir()) / "fulltext" / "state.json")
    before = checkpoint.stat().st_mtime
    with engine_process(tmp_path) as (_, url):
        client = Elasticsearch(url)
        hits = client.search(index="notes", query={"match": {"text": "restarts"}})
        assert hits["hits"]["hits"][0]["_id"] == "1"
    assert checkpoint.stat().st_mtime == before  # nothing had to be replayed
