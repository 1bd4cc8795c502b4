"""Durable storage of users, roles, API keys, OAuth2 tokens and application privileges, and the
`elastic` user.

Everything lives in one JSON file (`security.json`, mode 0600) rewritten atomically on every
change. The reserved `elastic` superuser gets a generated bootstrap password on first start,
written once to `elastic-password` (mode 0600) for the CLI, unless `ES_RAG_ENGINE_PASSWORD` is set.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..storage.state import write_atomically
from .passwords import hash_password
from .roles import RESERVED_ROLES

PASSWORD_ENV = "ES_RAG_ENGINE_PASSWORD"
ELASTIC = "elastic"
STATE_FILE = "security.json"
PASSWORD_FILE = "elastic-password"

Record = dict[str, Any]


class SecurityStore:
    """Users, roles, API keys and application privileges persisted under `data_dir`.

    Reads return copies, so callers may change them freely; writes are durable when they return.
    `bootstrap_password` is the generated `elastic` password when this start created it (print it
    once), else None.
    """

    def __init__(self, data_dir: Path, *, elastic_password: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._path = self.data_dir / STATE_FILE
        self._lock = threading.RLock()
        self._state: dict[str, Any] = {"users": {}, "roles": {}, "api_keys": {}, "tokens": {},
                                       "application_privileges": {}, "reserved_users": {}}
        if self._path.exists():
            self._state.update(json.loads(self._path.read_text()))
        self.bootstrap_password: str | None = None
        self._elastic_override: str | None = None
        override = elastic_password if elastic_password is not None else os.environ.get(
            PASSWORD_ENV)
        if override:
            self._elastic_override = hash_password(override)
        elif ELASTIC not in self._state["reserved_users"]:
            self._bootstrap_elastic()

    @property
    def password_file(self) -> Path:
        """The file holding the `elastic` password for the CLI (absent when set by env)."""
        return self.data_dir / PASSWORD_FILE

    # users -------------------------------------------------------------------------------
    def get_user(self, username: str) -> Record | None:
        """The user record (`password_hash`, `roles`, `full_name`, `email`, `metadata`,
        `enabled`, `reserved`), including the reserved `elastic` user."""
        with self._lock:
            if username == ELASTIC:
                return self._elastic_record()
            user = self._state["users"].get(username)
            return copy.deepcopy(user) if user is not None else None

    def users(self) -> list[Record]:
        """Every user, reserved first, then by name."""
        with self._lock:
            return [self._elastic_record()] + [copy.deepcopy(self._state["users"][n])
                                               for n in sorted(self._state["users"])]

    def put_user(self, record: Record) -> bool:
        """Create or replace a native user; True when it was created."""
        with self._lock:
            created = record["username"] not in self._state["users"]
            self._state["users"][record["username"]] = copy.deepcopy(record)
            self._save()
            return created

    def delete_user(self, username: str) -> bool:
        """Delete a native user; False when there was none."""
        with self._lock:
            if self._state["users"].pop(username, None) is None:
                return False
            self._save()
            return True

    def update_user(self, username: str, **changes: Any) -> None:
        """Change fields (`password_hash`, `enabled`) of an existing user, reserved or native."""
        with self._lock:
            if username == ELASTIC:
                if "password_hash" in changes:
                    self._elastic_override = None
                self._state["reserved_users"].setdefault(ELASTIC, {}).update(changes)
            else:
                self._state["users"][username].update(changes)
            self._save()

    def rehash_password(self, username: str, old_hash: str, new_hash: str) -> bool:
        """Replace a user's password hash with a stronger one of the same password, unless it
        changed since `old_hash` was verified; True when replaced."""
        with self._lock:
            if username == ELASTIC:
                current = self._state["reserved_users"].get(ELASTIC, {})
            else:
                current = self._state["users"].get(username, {})
            if current.get("password_hash") != old_hash:
                return False
            current["password_hash"] = new_hash
            self._save()
            return True

    def record_elastic_password(self, password: str) -> None:
        """Keep the CLI's password file in step when `elastic`'s password changes by API."""
        if self.password_file.exists():
            write_atomically(self.password_file, password + "\n", mode=0o600)

    # roles -------------------------------------------------------------------------------
    def get_role(self, name: str) -> Record | None:
        """The role descriptor called `name` (built-in roles included), or None."""
        with self._lock:
            role = RESERVED_ROLES.get(name) or self._state["roles"].get(name)
            return copy.deepcopy(role) if role is not None else None

    def roles(self) -> dict[str, Record]:
        """Every role by name: built-in ones first, then native ones by name."""
        with self._lock:
            native = {n: self._state["roles"][n] for n in sorted(self._state["roles"])}
            return copy.deepcopy({**RESERVED_ROLES, **native})

    def put_role(self, name: str, descriptor: Record) -> bool:
        """Create or replace a native role; True when it was created."""
        with self._lock:
            created = name not in self._state["roles"]
            self._state["roles"][name] = copy.deepcopy(descriptor)
            self._save()
            return created

    def delete_role(self, name: str) -> bool:
        """Delete a native role; False when there was none."""
        with self._lock:
            if self._state["roles"].pop(name, None) is None:
                return False
            self._save()
            return True

    # API keys ----------------------------------------------------------------------------
    def get_api_key(self, key_id: str) -> Record | None:
        """The stored API key record with id `key_id`, or None."""
        with self._lock:
            key = self._state["api_keys"].get(key_id)
            return copy.deepcopy(key) if key is not None else None

    def api_keys(self) -> Iterator[Record]:
        """Every API key record, oldest first."""
        with self._lock:
            keys = copy.deepcopy(list(self._state["api_keys"].values()))
        return iter(sorted(keys, key=lambda k: k["creation"]))

    def put_api_key(self, record: Record) -> None:
        """Store a new API key record (or replace one with the same id)."""
        with self._lock:
            self._state["api_keys"][record["id"]] = copy.deepcopy(record)
            self._save()

    def update_api_keys(self, ids: list[str], **changes: Any) -> None:
        """Set `changes` on the API keys `ids` in one durable write."""
        with self._lock:
            for key_id in ids:
                self._state["api_keys"][key_id].update(changes)
            self._save()

    # OAuth2 tokens (stored by the SHA-256 of the access token, never in the clear) ----------
    def get_token(self, token_id: str) -> Record | None:
        """The stored token record `token_id`, or None."""
        with self._lock:
            token = self._state["tokens"].get(token_id)
            return copy.deepcopy(token) if token is not None else None

    def tokens(self) -> list[Record]:
        """Every token record."""
        with self._lock:
            return copy.deepcopy(list(self._state["tokens"].values()))

    def put_token(self, record: Record, *, drop_before_ms: int | None = None) -> None:
        """Store a token record; records whose refresh window ended before `drop_before_ms`
        are dropped in the same write."""
        with self._lock:
            tokens = self._state["tokens"]
            if drop_before_ms is not None:
                for token_id in [i for i, t in tokens.items()
                                 if t["refresh_expiration"] < drop_before_ms]:
                    del tokens[token_id]
            tokens[record["id"]] = copy.deepcopy(record)
            self._save()

    def update_tokens(self, ids: list[str], **changes: Any) -> None:
        """Set `changes` on the tokens `ids` in one durable write."""
        with self._lock:
            for token_id in ids:
                self._state["tokens"][token_id].update(changes)
            self._save()

    # application privileges --------------------------------------------------------------
    def application_privileges(self) -> dict[str, dict[str, Record]]:
        """Application privilege definitions: application -> name -> definition."""
        with self._lock:
            return copy.deepcopy(self._state["application_privileges"])

    def put_application_privileges(self, definitions: list[Record]) -> dict[str, dict[str, Any]]:
        """Store definitions; answers application -> name -> {"created": bool}."""
        result: dict[str, dict[str, Any]] = {}
        with self._lock:
            apps = self._state["application_privileges"]
            for definition in definitions:
                app, name = definition["application"], definition["name"]
                created = name not in apps.get(app, {})
                apps.setdefault(app, {})[name] = copy.deepcopy(definition)
                result.setdefault(app, {})[name] = {"created": created}
            self._save()
        return result

    def delete_application_privileges(self, application: str, names: list[str]
                                      ) -> dict[str, bool]:
        """Delete named privileges of `application`; answers name -> found."""
        with self._lock:
            defined = self._state["application_privileges"].get(application, {})
            found = {name: defined.pop(name, None) is not None for name in names}
            if not defined:
                self._state["application_privileges"].pop(application, None)
            self._save()
        return found

    def reset(self) -> None:
        """Forget every native user, role, API key and application privilege (what deleting
        Elasticsearch's `.security` index does); the `elastic` user and its password stay."""
        with self._lock:
            for part in ("users", "roles", "api_keys", "tokens", "application_privileges"):
                self._state[part] = {}
            self._save()

    # internals ---------------------------------------------------------------------------
    def _elastic_record(self) -> Record:
        stored = self._state["reserved_users"].get(ELASTIC, {})
        return {"username": ELASTIC, "roles": ["superuser"], "full_name": None, "email": None,
                "metadata": {"_reserved": True}, "enabled": stored.get("enabled", True),
                "password_hash": self._elastic_override or stored.get("password_hash"),
                "reserved": True}

    def _bootstrap_elastic(self) -> None:
        password = secrets.token_urlsafe(15)
        if self.password_file.exists():  # written by a start that crashed before saving the hash
            password = self.password_file.read_text().strip()
        else:
            write_atomically(self.password_file, password + "\n", mode=0o600)
            self.bootstrap_password = password
        self._state["reserved_users"][ELASTIC] = {"password_hash": hash_password(password),
                                                  "enabled": True}
        self._save()

    def _save(self) -> None:
        write_atomically(self._path, json.dumps(self._state), mode=0o600)
