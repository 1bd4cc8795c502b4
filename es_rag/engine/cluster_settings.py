"""Cluster settings (`GET`/`PUT _cluster/settings`): persistent ones kept in the cluster state,
transient ones until the node stops, both applied over the node's start-up limits."""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from typing import Any

from .errors import ActionRequestValidation, BadRequest, EngineError
from .limits import DYNAMIC, SETTINGS, Limits, setting_text, with_settings

_SCOPES = ("persistent", "transient")
AUTO_CREATE = "action.auto_create_index"  # dynamic, not a limit: read by `check_auto_create`


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"search": {"max_buckets": 10}}` -> `{"search.max_buckets": 10}`."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def nest(settings: dict[str, str]) -> dict[str, Any]:
    """`{"search.max_buckets": "10"}` -> `{"search": {"max_buckets": "10"}}`."""
    out: dict[str, Any] = {}
    for name, value in sorted(settings.items()):
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class ClusterSettings:
    """The dynamic cluster settings of one node; `save` persists the persistent ones."""

    def __init__(self, persistent: dict[str, str], save: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, dict[str, str]] = {"persistent": dict(persistent),
                                                  "transient": {}}
        self._save = save
        self._cache: tuple[Limits, Limits] | None = None  # (base, effective)
        self.base = Limits()  # the start-up limits of the serving engine

    def effective(self, base: Limits) -> Limits:
        """The node's start-up limits `base` with the persistent, then the transient,
        settings applied (the limits a request is served with)."""
        self.base = base
        cached = self._cache
        if cached is not None and cached[0] is base:
            return cached[1]
        with self._lock:
            merged = {**self.values["persistent"], **self.values["transient"]}
        limits = with_settings(base, _limits_only(merged))
        self._cache = (base, limits)
        return limits

    def update(self, body: Any, flat: bool) -> dict[str, Any]:
        """Apply a `PUT _cluster/settings` body; answer as Elasticsearch does (the settings
        the request set, per scope)."""
        if not isinstance(body, dict) or not any(body.get(s) for s in _SCOPES):
            raise ActionRequestValidation("Validation Failed: 1: no settings to update;")
        unknown = sorted(set(body) - set(_SCOPES))
        if unknown:
            raise BadRequest(f"request body contains unknown field [{unknown[0]}]")
        changes = {scope: flatten(body.get(scope) or {}) for scope in _SCOPES}
        for scope, settings in changes.items():
            for name in settings:
                if name == AUTO_CREATE:
                    continue
                if name not in SETTINGS:
                    raise BadRequest(f"{scope} setting [{name}], not recognized")
                if name not in DYNAMIC:
                    raise BadRequest(f"{scope} setting [{name}], not dynamically updateable")
        with self._lock:
            updated = {scope: dict(self.values[scope]) for scope in _SCOPES}
            for scope, settings in changes.items():
                for name, value in settings.items():
                    if value is None:
                        updated[scope].pop(name, None)
                    else:
                        updated[scope][name] = _text(value)
            try:  # the values parse and agree with each other before anything is kept
                with_settings(self.base, _limits_only(
                    {**updated["persistent"], **updated["transient"]}))
            except ValueError as err:
                raise BadRequest(str(err)) from err
            persistent_changed = updated["persistent"] != self.values["persistent"]
            self.values = updated
            self._cache = None
            if persistent_changed:
                self._save()
        shown = {scope: {n: _text(v) for n, v in settings.items() if v is not None}
                 for scope, settings in changes.items()}
        return {"acknowledged": True,
                **{scope: s if flat else nest(s) for scope, s in shown.items()}}

    def get(self, flat: bool, include_defaults: bool) -> dict[str, Any]:
        """A `GET _cluster/settings` body."""
        with self._lock:
            out = {scope: dict(self.values[scope]) for scope in _SCOPES}
        if include_defaults:
            defaults = {name: setting_text(self.base, name) for name in SETTINGS}
            defaults[AUTO_CREATE] = "true"
            out["defaults"] = {name: value for name, value in defaults.items()
                               if name not in out["persistent"] and name not in
                               out["transient"]}
        return {scope: s if flat else nest(s) for scope, s in out.items()}


    def check_auto_create(self, index: str) -> None:
        """Refuse to create `index` on a write when `action.auto_create_index` forbids it, with
        Elasticsearch's messages (AutoCreateIndex): `false`, or `+`/`-` patterns of which the
        first matching one decides."""
        with self._lock:
            value = self.values["transient"].get(
                AUTO_CREATE, self.values["persistent"].get(AUTO_CREATE, "true"))
        if value == "true":
            return
        if value == "false":
            raise _not_created(index, f"[{AUTO_CREATE}] is [false]")
        for pattern in (p.strip() for p in value.split(",") if p.strip()):
            allowed = not pattern.startswith("-")
            if fnmatch.fnmatchcase(index, pattern.lstrip("+-")):
                if allowed:
                    return
                raise _not_created(index, f"[{AUTO_CREATE}] contains [{pattern}] which forbids "
                                          f"automatic creation of the index")
        raise _not_created(index, f"[{AUTO_CREATE}] ([{value}]) doesn't match")


def _limits_only(settings: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in settings.items() if name != AUTO_CREATE}


def _not_created(index: str, why: str) -> EngineError:
    return EngineError(f"no such index [{index}] and {why}", status=404,
                       error_type="index_not_found_exception", index=index,
                       **{"resource.type": "index_expression", "resource.id": index,
                          "index_uuid": "_na_"})
