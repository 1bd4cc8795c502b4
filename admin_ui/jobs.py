"""Long operations (ingest, apply/reindex, evaluation) on background threads, with progress.

Pages start a job and poll `/jobs/<id>.json`; one job of each kind runs at a time.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from es_rag.errors import EsRagError

Work = Callable[["Job"], Any]


class JobBusy(EsRagError, RuntimeError):
    """A job of the same kind is still running."""


@dataclass
class Job:
    """One background operation: what it is doing now, how far it got, how it ended."""

    id: str
    kind: str
    title: str
    state: str = "running"  # running | done | failed
    stage: str = "starting"
    done: int = 0
    total: int | None = None
    error: str | None = None
    result: Any = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def progress(self, stage: str, done: int | None = None, total: int | None = None) -> None:
        """Record progress: a stage name and, when known, how many of how many are done."""
        self.stage = stage
        if done is not None:
            self.done = done
        self.total = total

    @property
    def line(self) -> str:
        """The progress line shown on the page."""
        if self.state == "failed":
            return f"failed: {self.error}"
        if self.state == "done":
            return f"done in {(self.finished or time.time()) - self.started:.1f} s"
        count = f" {self.done}/{self.total}" if self.total else (f" {self.done}"
                                                                 if self.done else "")
        return f"{self.stage}{count}"

    def as_dict(self) -> dict[str, Any]:
        """The status JSON the pages poll."""
        percent = round(100 * self.done / self.total) if self.total else None
        return {"id": self.id, "kind": self.kind, "title": self.title, "state": self.state,
                "stage": self.stage, "done": self.done, "total": self.total,
                "percent": 100 if self.state == "done" else percent, "line": self.line,
                "error": self.error}


class Jobs:
    """The jobs of this process, newest last."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, kind: str, title: str, work: Work) -> Job:
        """Run `work(job)` on a thread; its return value becomes `job.result`."""
        with self._lock:
            running = [j for j in self._jobs.values() if j.kind == kind and j.state == "running"]
            if running:
                raise JobBusy(f"a {kind} job is already running ({running[0].title})")
            job = Job(id=f"{kind}-{next(self._ids)}", kind=kind, title=title)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), daemon=True,
                         name=f"admin-ui-{job.id}").start()
        return job

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        try:
            job.result = work(job)
            job.state = "done"
        except Exception as exc:  # noqa: BLE001 - a failed job reports its error on the page
            job.error = str(exc) or type(exc).__name__
            job.state = "failed"
            traceback.print_exc()
        finally:
            job.finished = time.time()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def latest(self, kind: str) -> Job | None:
        """The newest job of `kind`, or None."""
        of_kind = [j for j in self._jobs.values() if j.kind == kind]
        return of_kind[-1] if of_kind else None
