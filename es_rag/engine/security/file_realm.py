"""The file realm: users defined in `<data dir>/config/users` and `config/users_roles`.

As Elasticsearch's file realm (`$ES_PATH_CONF/users`, `users_roles`, what `elasticsearch-users
useradd` writes): `users` holds one `username:hash` a line (a bcrypt or PBKDF2 hash, as
Elasticsearch writes them), `users_roles` one `role:user1,user2` a line; `#` starts a comment.
These users live outside the security index, so deleting it leaves them in place; they are
consulted before the native realm, as the file realm's default order puts it first. The files
are read again when they change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileUser:
    """A user of the file realm."""

    username: str
    password_hash: str
    roles: tuple[str, ...]


class FileRealm:
    """The users of the `users` and `users_roles` files in `config_dir`."""

    def __init__(self, config_dir: Path) -> None:
        self._users_path = config_dir / "users"
        self._roles_path = config_dir / "users_roles"
        self._lock = threading.Lock()
        self._stamp: tuple[float | None, float | None] | None = None
        self._users: dict[str, FileUser] = {}

    def get(self, username: str) -> FileUser | None:
        """The file user `username`, or None."""
        with self._lock:
            stamp = (_mtime(self._users_path), _mtime(self._roles_path))
            if stamp != self._stamp:
                self._users = self._load()
                self._stamp = stamp
            return self._users.get(username)

    def _load(self) -> dict[str, FileUser]:
        roles: dict[str, list[str]] = {}
        for role, names in _entries(self._roles_path):
            for name in names.split(","):
                if name.strip():
                    roles.setdefault(name.strip(), []).append(role)
        return {name: FileUser(name, stored, tuple(roles.get(name, ())))
                for name, stored in _entries(self._users_path)}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _entries(path: Path) -> list[tuple[str, str]]:
    """`key:value` lines of a realm file (blank lines and `#` comments skipped)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip():
            entries.append((key.strip(), value.strip()))
    return entries
