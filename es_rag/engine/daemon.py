"""Run the engine as a detached background process tied to a data directory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .storage.private import open_private, private_folder
from .storage.state import write_atomically

PID_FILE = "engine.pid"
URL_FILE = "engine.url"  # written by the engine (`__main__`) once it serves
LOG_FILE = "engine.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    """Whether the engine serves `url` (with security on, an unauthenticated 401 counts)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as err:
        return err.headers.get("X-Elastic-Product") == "Elasticsearch"
    except OSError:
        return False


def status(data_dir: Path) -> dict | None:
    """`{"pid", "url"}` of the engine running on a data directory, or None."""
    data_dir = Path(data_dir)
    pid_file, url_file = data_dir / PID_FILE, data_dir / URL_FILE
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        return None
    if not _alive(pid):
        return None
    url = url_file.read_text().strip() if url_file.exists() else None
    return {"pid": pid, "url": url}


def start_background(data_dir: Path, port: int = 9200, timeout: float = 60.0) -> str:
    """Start a detached engine on `data_dir` (or find the running one) and return its URL."""
    data_dir = Path(data_dir)
    private_folder(data_dir)
    running = status(data_dir)
    if running and running["url"] and _answers(running["url"]):
        return running["url"]
    (data_dir / URL_FILE).unlink(missing_ok=True)
    log = open_private(data_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    proc = subprocess.Popen(
        [sys.executable, "-m", "es_rag.engine", "--data", str(data_dir), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    os.close(log)
    write_atomically(data_dir / PID_FILE, str(proc.pid))
    deadline = time.monotonic() + timeout
    url_file = data_dir / URL_FILE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (data_dir / LOG_FILE).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the engine exited with status {proc.returncode}:\n{tail}")
        if url_file.exists():
            url = url_file.read_text().strip()
            if _answers(url):
                return url
        time.sleep(0.1)
    raise RuntimeError(f"the engine did not answer within {timeout:.0f} s; see "
                       f"{data_dir / LOG_FILE}")


def stop(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the engine of a data directory (SIGTERM, then SIGKILL); False if none was running."""
    data_dir = Path(data_dir)
    running = status(data_dir)
    if running is None:
        (data_dir / PID_FILE).unlink(missing_ok=True)
        return False
    pid = running["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (data_dir / PID_FILE).unlink(missing_ok=True)
    (data_dir / URL_FILE).unlink(missing_ok=True)
    return True
