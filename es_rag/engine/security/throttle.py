"""Failed-login throttling: too many failed password checks for one user name, or from one
client address, within a window refuse further checks until the window has moved on.

Elasticsearch leaves brute-force protection to the network in front of it; the engine guards
itself, with settings from the environment:

- `ES_RAG_ENGINE_LOGIN_MAX_FAILURES_PER_USER` (default 10) and
  `ES_RAG_ENGINE_LOGIN_MAX_FAILURES_PER_ADDRESS` (default 50): failed checks allowed within
- `ES_RAG_ENGINE_LOGIN_WINDOW_SECONDS` (default 60).

A refused attempt costs no password hash and is not counted itself. Credentials verified
recently (the authentication cache) still pass, so a locked-out user's running clients go on.
Loopback addresses are counted per user only: es-rag's API and admin UI reach the engine from
127.0.0.1 for all their users (the admin UI throttles per browser address itself), and one
misconfigured application must not lock everybody out.
"""

from __future__ import annotations

import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_FAILURES_PER_USER_ENV = "ES_RAG_ENGINE_LOGIN_MAX_FAILURES_PER_USER"
MAX_FAILURES_PER_ADDRESS_ENV = "ES_RAG_ENGINE_LOGIN_MAX_FAILURES_PER_ADDRESS"
WINDOW_ENV = "ES_RAG_ENGINE_LOGIN_WINDOW_SECONDS"
MAX_TRACKED = 100_000


@dataclass(frozen=True)
class ThrottleSettings:
    """How many failed logins per user name and per client address a window allows."""

    max_failures_per_user: int = 10
    max_failures_per_address: int = 50
    window_seconds: float = 60.0

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> ThrottleSettings:
        """The settings from `ES_RAG_ENGINE_LOGIN_*` variables; a bad value is a ValueError."""
        defaults = cls()

        def number(name: str, default: float, kind: type) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                value = -1
            if value <= 0:
                raise ValueError(f"{name} must be a positive {kind.__name__}, got {raw!r}")
            return value

        return cls(
            int(number(MAX_FAILURES_PER_USER_ENV, defaults.max_failures_per_user, int)),
            int(number(MAX_FAILURES_PER_ADDRESS_ENV, defaults.max_failures_per_address, int)),
            number(WINDOW_ENV, defaults.window_seconds, float))


@dataclass(frozen=True)
class Throttled:
    """Why an attempt is refused and in how many seconds the next one may be made."""

    subject: str
    retry_after: int

    def reason(self) -> str:
        """Elasticsearch-style wording of the refusal."""
        return (f"too many failed authentication attempts for {self.subject}; retry in "
                f"{self.retry_after} seconds")


class LoginThrottle:
    """Failure times per user name and per client address, in a sliding window."""

    def __init__(self, settings: ThrottleSettings | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or ThrottleSettings.from_environment()
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, username: str, address: str | None) -> Throttled | None:
        """None when an attempt for `username` from `address` may be checked now."""
        now = self._clock()
        with self._lock:
            for key, limit, subject in self._keys(username, address):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = times[-limit] + self.settings.window_seconds - now
                    return Throttled(subject, max(1, math.ceil(wait)))
        return None

    def failed(self, username: str, address: str | None) -> None:
        """Count a failed password check."""
        now = self._clock()
        with self._lock:
            for key, limit, _ in self._keys(username, address):
                times = self._recent(key, now)
                times.append(now)
                while len(times) > limit:
                    times.popleft()
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def _keys(self, username: str, address: str | None) -> list[tuple[tuple[str, str], int, str]]:
        keys = [(("user", username), self.settings.max_failures_per_user, f"user [{username}]")]
        if address and not _is_loopback(address):
            keys.append((("address", address), self.settings.max_failures_per_address,
                         f"client address [{address}]"))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.settings.window_seconds:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
