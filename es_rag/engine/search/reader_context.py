"""Reader contexts: the pinned index snapshots scrolls and points in time search, with expiry.

A reader context pins, for each index of a request, the searcher the index had when the context
opened (new documents stay invisible) and keeps the stored version of every document the
snapshot can return even after it is updated or deleted (`Shard.readers` hands the replaced
versions over before a write removes them). Contexts are owned by the user who opened them: as
Elasticsearch's `SecuritySearchOperationListener`, another user asking for one gets the same 404
as for a context that does not exist. Contexts expire after their keep-alive; limits and
messages are Elasticsearch's (`search.max_keep_alive`, `search.max_open_scroll_context`).
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, EngineError
from ..index.fulltext import FullTextIndex
from ..index.shard import Shard
from ..limits import current as current_limits
from ..node import Target
from ..security.context import current_user
from ..storage.docstore import StoredDoc
from .scope import Scope, make_scopes

_TIME = re.compile(r"(\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)")
_UNIT_MS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3600_000,
            "d": 86_400_000}
_PREFIX = b"es-rag-reader:"


def parse_keep_alive(name: str, value: str) -> int:
    """A time value (`1m`, `30s`) in milliseconds, with Elasticsearch's parse error."""
    found = _TIME.fullmatch(value.strip().lower())
    if found is None:
        raise BadRequest(f"failed to parse setting [{name}] with value [{value}] as a time value: "
                         f"unit is missing or unrecognized")
    return int(float(found.group(1)) * _UNIT_MS[found.group(2)])


def _time_text(millis: int) -> str:
    """Elasticsearch's `TimeValue.toString()` of a duration (`1d`, `5m`, `1.5h`)."""
    for unit, size in (("d", 86_400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000)):
        if millis >= size:
            value = millis / size
            return f"{value:.1f}".rstrip("0").rstrip(".") + unit
    return f"{millis}ms"


class SearchContextMissing(EngineError):
    """Elasticsearch's answer for an expired, freed or foreign reader context: a 404
    `search_phase_execution_exception` whose shard failure is `search_context_missing_exception`."""

    status = 404
    error_type = "search_phase_execution_exception"

    def __init__(self, context_id: str) -> None:
        self.missing = {"type": "search_context_missing_exception",
                        "reason": f"No search context found for id [{context_id}]"}
        super().__init__("all shards failed", phase="query", grouped=True,
                         failed_shards=[{"shard": -1, "index": None, "reason": self.missing}],
                         caused_by=self.missing)

    def body(self) -> dict[str, Any]:
        return {"error": {"root_cause": [self.missing], **self.cause()}, "status": self.status}


class PinnedFullText:
    """A full-text index seen through the searcher it had when pinned."""

    count = FullTextIndex.count
    ids_of = FullTextIndex.ids_of

    def __init__(self, live: FullTextIndex) -> None:
        self._live = live
        self.searcher = live.searcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._live, name)


class PinnedStore:
    """A document store that still returns the versions a snapshot saw after they change."""

    def __init__(self, live: Any) -> None:
        self._live = live
        self.kept: dict[int, StoredDoc] = {}

    def by_seq_nos(self, seq_nos: Any) -> dict[int, StoredDoc]:
        keys = list(seq_nos)
        found = {k: self.kept[k] for k in keys if k in self.kept}
        rest = [k for k in keys if k not in found]
        if rest:
            found.update(self._live.by_seq_nos(rest))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._live, name)


class PinnedShard:
    """A shard as it was when a reader context opened (its writes keep going on)."""

    def __init__(self, shard: Shard, expired: Callable[[], bool]) -> None:
        self._shard = shard
        self._expired = expired
        self.fulltext = PinnedFullText(shard.fulltext)
        self.store = PinnedStore(shard.store)
        self.checkpoint = shard.fulltext.checkpoint

    def keep(self, shard: Shard, replaced: list[int]) -> None:
        """Called before a write removes `replaced` versions: keep those the snapshot saw
        (once the context has expired, stop listening and let go of what was kept)."""
        if self._expired():
            self.release()
            return
        wanted = [k for k in replaced if k <= self.checkpoint and k not in self.store.kept]
        if wanted:
            self.store.kept.update(shard.store.by_seq_nos(wanted))

    def release(self) -> None:
        """Stop keeping replaced versions for this snapshot."""
        if self.keep in self._shard.readers:
            self._shard.readers.remove(self.keep)
        self.store.kept.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shard, name)


@dataclass
class ReaderContext:
    """One scroll or point in time: its pinned shards, owner, keep-alive and paging state."""

    id: str
    kind: str  # "scroll" or "pit"
    owner: tuple[str, ...] | None
    targets: list[Target]
    pinned: dict[str, PinnedShard]  # by index name
    keep_alive_ms: int
    last_used: float = field(default_factory=time.monotonic)
    state: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return now - self.last_used > self.keep_alive_ms / 1000

    def scopes(self, targets: list[Target]) -> list[Scope]:
        """Fresh query scopes over the pinned shards of `targets` (indices of this context)."""
        scopes = make_scopes(targets)
        for scope in scopes:
            scope.ctx.shard = self.pinned[scope.name]  # type: ignore[assignment]
        return scopes


def owner_of_current_user() -> tuple[str, ...] | None:
    """Who owns what the current request opens: the user (and realm), or the API key."""
    user = current_user.get()
    if user is None:
        return None
    if user.authenticating.api_key is not None:
        return ("api_key", str(user.authenticating.api_key.get("id")))
    realm = user.lookup_realm or user.authentication_realm
    return ("user", user.username, realm.name)


class ReaderContexts:
    """The node's open reader contexts, freed when their keep-alive lapses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[str, ReaderContext] = {}

    def keep_alive(self, name: str, value: str | None) -> int:
        """A keep-alive in ms (the default when absent), within `search.max_keep_alive`."""
        millis = current_limits().default_keep_alive * 1000 if value is None else \
            parse_keep_alive(name, value)
        limit = current_limits().max_keep_alive * 1000
        if millis > limit:
            raise BadRequest(f"Keep alive for request ({_time_text(millis)}) is too large. It "
                             f"must be less than ({_time_text(limit)}). This "
                             f"limit can be set by changing the [search.max_keep_alive] cluster "
                             f"level setting.")
        return millis

    def open(self, kind: str, targets: list[Target], keep_alive_ms: int) -> ReaderContext:
        """Pin `targets` (their DLS and alias filters included) for the current user."""
        self._expire()
        limit = current_limits().max_open_scroll_context
        with self._lock:
            if kind == "scroll" and sum(c.kind == "scroll" for c in self._contexts.values()) \
                    >= limit:
                raise EngineError(f"Trying to create too many scroll contexts. Must be less than "
                                  f"or equal to: [{limit}]. This limit can be set "
                                  f"by changing the [search.max_open_scroll_context] setting.",
                                  status=429, error_type="too_many_scroll_contexts_exception")
        raw = _PREFIX + kind.encode() + b":" + uuid.uuid4().hex.encode()
        context_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        context = ReaderContext(context_id, kind, owner_of_current_user(), targets, {},
                                keep_alive_ms)
        for target in targets:
            shard = target.index.shard
            pinned = PinnedShard(shard, lambda: context.expired(time.monotonic()))
            context.pinned[target.index.name] = pinned
            shard.readers.append(pinned.keep)
        with self._lock:
            self._contexts[context_id] = context
        return context

    def get(self, context_id: str, kind: str, keep_alive_ms: int | None = None
            ) -> ReaderContext:
        """The live context of `context_id` (owned by the current user), marked used."""
        self._check_format(context_id, kind)
        self._expire()
        with self._lock:
            context = self._contexts.get(context_id)
        if context is None or context.kind != kind or \
                context.owner != owner_of_current_user():
            raise SearchContextMissing(context_id)
        if keep_alive_ms is not None:
            context.keep_alive_ms = keep_alive_ms
        context.last_used = time.monotonic()
        return context

    def free(self, context_ids: list[str] | None, kind: str) -> int:
        """Free the given contexts of the current user (every one of `kind`, of every user,
        for None: `_all`, authorized by the caller); how many were freed."""
        for context_id in context_ids or []:
            self._check_format(context_id, kind)
        self._expire()
        owner = owner_of_current_user()
        with self._lock:
            chosen = [c for c in self._contexts.values() if c.kind == kind and (
                context_ids is None or (c.id in context_ids and c.owner == owner))]
            for context in chosen:
                self._release(context)
        return len(chosen)

    def _check_format(self, context_id: str, kind: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(context_id + "=" * (-len(context_id) % 4))
        except ValueError:
            raw = b""
        if not raw.startswith(_PREFIX):
            raise BadRequest("Cannot parse scroll id" if kind == "scroll" else
                             "invalid id: [" + context_id + "]")

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for context in [c for c in self._contexts.values() if c.expired(now)]:
                self._release(context)

    def _release(self, context: ReaderContext) -> None:
        """Forget a context (call with the lock held) and stop keeping versions for it."""
        self._contexts.pop(context.id, None)
        for pinned in context.pinned.values():
            pinned.release()
