"""An exact answer cache for `es-rag serve` and the playground, and the index version it checks.

An answer is reused only for the same question text, the same parameters (search, prompt,
generator), the same index version and the same user scope: a key hashes all four, so one
user's answer (built from what their DLS lets them read) is never given to another. The index
version is a token in `<data>/index-version` that `es-rag ingest` and `es-rag apply` (CLI and
admin UI) replace, so the next lookup misses; entries also expire after `answer_cache_seconds`
(a safety net for writes made from another machine, which do not see this data folder).
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from es_rag.engine.storage.private import private_folder
from es_rag.engine.storage.state import write_atomically

VERSION_FILE = "index-version"


def index_version(data: Path) -> str:
    """The current index version token ("0" before the first ingest or apply)."""
    try:
        return (Path(data) / VERSION_FILE).read_text(encoding="utf-8").strip() or "0"
    except OSError:
        return "0"


def bump_index_version(data: Path) -> str:
    """A new index version (after an ingest or an apply): every cached answer is stale."""
    private_folder(Path(data))
    token = f"{time.time_ns()}-{secrets.token_hex(4)}"
    write_atomically(Path(data) / VERSION_FILE, token)
    return token


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def generator_identity(generator: Any) -> dict[str, Any]:
    """What of a generator shapes its answers: provider, model and prompt template."""
    return {"provider": getattr(generator, "name", type(generator).__name__),
            "model": getattr(generator, "model", None),
            "prompt": getattr(generator, "prompt", None)}


class AnswerCache:
    """Answers by key, kept `ttl` seconds, at most `max_size` (least recently used out)."""

    def __init__(self, data: Path, ttl: float, max_size: int = 256) -> None:
        self.data = Path(data)
        self.ttl = ttl
        self.max_size = max_size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def key(self, question: str, parameters: Any, index: str, user_scope: str | None) -> str:
        """The key of an answer: question, parameters, index and its version, user scope."""
        material = json.dumps({"question": question.strip(), "parameters": parameters,
                               "index": index, "version": index_version(self.data),
                               "scope": user_scope or ""}, sort_keys=True, default=_plain)
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        """A copy of the cached answer, marked `retrieval["cache"] = "hit"`; None on a miss."""
        if not self.enabled:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now - entry[0] >= self.ttl:
                self._entries.pop(key, None)
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            answer = copy.deepcopy(entry[1])
        answer.retrieval = {**answer.retrieval, "cache": "hit"}
        return answer

    def put(self, key: str, answer: Any) -> None:
        """Keep a copy of `answer` under `key`."""
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = (time.monotonic(), copy.deepcopy(answer))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
