"""The node: the registry of indices and aliases, index-name resolution, license, refresh loop."""

from __future__ import annotations

import fnmatch
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cluster_settings import ClusterSettings
from .date_math_names import resolve as resolve_date_math_name
from .errors import BadRequest, EngineError, IndexNotFound, ResourceAlreadyExists
from .index import settings as index_settings
from .index.mapping import Mapping
from .index.mapping.nested import check_nested_fields_limit
from .index.shard import Shard
from .index.similarity import check_mapping as check_similarities
from .legacy_templates import LegacyTemplates
from .storage.private import make_private
from .storage.state import load_state, save_state

if TYPE_CHECKING:
    from .security.fls import FieldAccess

VERSION = "9.1.0"
CLUSTER_NAME = "es-rag-engine"
_INVALID_CHARS = set('\\/*?"<>| ,#:')


@dataclass
class IndexService:
    """One index: its metadata and its shard."""

    name: str
    uuid: str
    created: int
    settings: dict[str, Any]
    mapping: Mapping
    aliases: dict[str, dict[str, Any]]
    shard: Shard
    last_refresh: float = field(default=0.0)

    def meta(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "created": self.created, "settings": self.settings,
                "mappings": self.mapping.to_json(), "aliases": self.aliases}

    def setting(self, name: str, default: str | None = None) -> Any:
        return self.settings.get("index." + name, default)

    @property
    def shard_copies(self) -> tuple[int, int]:
        """(all copies, active copies) of its shards on this single node: every primary with
        its replicas (`auto_expand_replicas` expands to its lower bound on one node), of which
        only the primaries can be assigned."""
        primaries = int(self.setting("number_of_shards", "1"))
        expand = str(self.setting("auto_expand_replicas", "false"))
        if expand != "false" and "-" in expand:
            replicas = int(expand.split("-", 1)[0])
        else:
            replicas = int(self.setting("number_of_replicas", "1"))
        return primaries * (1 + replicas), primaries

    @property
    def hidden(self) -> bool:
        return self.setting("hidden") == "true"

    def full_settings(self) -> dict[str, Any]:
        flat = {"index.number_of_shards": "1", "index.number_of_replicas": "1",
                **self.settings, "index.uuid": self.uuid,
                "index.creation_date": str(self.created), "index.provided_name": self.name,
                "index.version.created": "9009000", "index.routing.allocation.include."
                "_tier_preference": "data_content"}
        return index_settings.nest(flat)


@dataclass
class Target:
    """An index a request resolved to, with the filters of the aliases it was reached through
    and the fields its reader may see (`fields`: field-level security; None: every field)."""

    index: IndexService
    alias_filters: list[dict[str, Any]] | None = None
    fields: FieldAccess | None = None


def validate_index_name(name: str) -> None:
    """Refuse names Elasticsearch refuses, with its message."""
    def bad(why: str) -> EngineError:
        return EngineError(f"Invalid index name [{name}], {why}", status=400,
                           error_type="invalid_index_name_exception", index=name,
                           index_uuid="_na_")
    if name != name.lower():
        raise bad("must be lowercase")
    if name.startswith(("_", "-", "+")):
        raise bad("must not start with '_', '-', or '+'")
    if name in (".", ".."):
        raise bad("must not be '.' or '..'")
    if any(c in _INVALID_CHARS for c in name):
        raise bad('must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]')
    if len(name.encode()) > 255:
        raise bad("index name is too long, (" + str(len(name.encode())) + " > 255)")


class Node:
    """All indices of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        make_private(data_dir)
        self._state_path = data_dir / "cluster_state.json"
        state = load_state(self._state_path)
        self.cluster_uuid: str = state.get("cluster_uuid") or uuid.uuid4().hex[:22]
        self.node_id: str = state.get("node_id") or uuid.uuid4().hex[:22]
        self.license: dict[str, Any] = state.get("license") or {
            "type": "trial", "uid": str(uuid.uuid4()), "issue_date_in_millis":
            int(time.time() * 1000)}
        self.lock = threading.RLock()
        self.cluster_settings = ClusterSettings(state.get("persistent_settings") or {},
                                                self._save)
        self.indices: dict[str, IndexService] = {}
        for name, meta in state.get("indices", {}).items():
            mapping = Mapping(meta["mappings"])
            self.indices[name] = IndexService(
                name, meta["uuid"], meta["created"], meta["settings"], mapping, meta["aliases"],
                Shard(self._index_dir(meta["uuid"]), mapping))
        self.templates = LegacyTemplates(data_dir / "legacy_templates.json")
        self.extensions: dict[str, Any] = {}
        self._stop = threading.Event()
        self._refresher = threading.Thread(target=self._refresh_loop, daemon=True,
                                           name="engine-refresh")
        self._save()
        self._refresher.start()

    def _index_dir(self, index_uuid: str) -> Path:
        return self.data_dir / "indices" / index_uuid

    def _save(self) -> None:
        with self.lock:
            save_state(self._state_path, {
                "cluster_uuid": self.cluster_uuid, "node_id": self.node_id,
                "license": self.license,
                "persistent_settings": self.cluster_settings.values["persistent"],
                "indices": {n: s.meta() for n, s in self.indices.items()}})

    def save(self) -> None:
        """Persist metadata after a change (mapping, aliases, settings, license)."""
        self._save()

    # -- refresh loop -----------------------------------------------------------------------
    def _refresh_loop(self) -> None:
        last_save = time.monotonic()
        while not self._stop.wait(0.25):
            now = time.monotonic()
            for svc in list(self.indices.values()):
                interval = _seconds(svc.setting("refresh_interval", "1s"))
                explicit = "index.refresh_interval" in svc.settings
                if interval is not None and now - svc.last_refresh >= interval and \
                        (explicit or not svc.shard.search_idle()):
                    svc.last_refresh = now
                    try:
                        svc.shard.refresh()
                    except Exception:  # noqa: BLE001 - keep refreshing other indices
                        continue
            if now - last_save > 30:
                last_save = now
                for svc in list(self.indices.values()):
                    svc.shard.save_vectors()

    def close(self) -> None:
        """Stop the refresh loop and close every index (flushing everything)."""
        self._stop.set()
        self._refresher.join(timeout=5)
        with self.lock:
            services = list(self.indices.values())
            self._save()
        for svc in services:
            svc.shard.close()

    # -- index lifecycle --------------------------------------------------------------------
    def create_index(self, name: str, body: dict[str, Any] | None) -> IndexService:
        """Create an index from a create-index body (settings, mappings, aliases), with the
        legacy templates its name matches applied."""
        body = body or {}
        for key in body:
            if key not in ("settings", "mappings", "aliases"):
                raise EngineError(f"unknown key [{key}] for create index", status=400,
                                  error_type="parse_exception")
        name = resolve_date_math_name(name)
        validate_index_name(name)
        body = self.templates.apply(name, body) or {}
        flat = index_settings.validate(index_settings.flatten(body.get("settings") or {}))
        mapping = Mapping(body.get("mappings") or {})
        check_similarities(mapping.fields.values(), flat)
        check_nested_fields_limit(mapping, flat)
        aliases = {resolve_date_math_name(a): alias_body(resolve_date_math_name(a), spec)
                   for a, spec in (body.get("aliases") or {}).items()}
        with self.lock:
            if name in self.indices:
                raise ResourceAlreadyExists(f"index [{name}/{self.indices[name].uuid}] already "
                                            f"exists", index=name,
                                            index_uuid=self.indices[name].uuid)
            if self.alias_names().get(name):
                raise BadRequest(f"Invalid index name [{name}], already exists as alias",
                                 error_type="invalid_index_name_exception")
            for alias in aliases:
                if alias in self.indices:
                    raise BadRequest(f"Invalid alias name [{alias}]: an index or data stream "
                                     f"exists with the same name as the alias",
                                     error_type="invalid_alias_name_exception")
            index_uuid = uuid.uuid4().hex[:22]
            svc = IndexService(name, index_uuid, int(time.time() * 1000), flat, mapping, aliases,
                               Shard(self._index_dir(index_uuid), mapping))
            self.indices[name] = svc
            self._save()
            return svc

    def delete_indices(self, services: list[IndexService]) -> None:
        """Delete indices and their data."""
        with self.lock:
            removed = [svc for svc in services if self.indices.pop(svc.name, None) is not None]
            self._save()
        # closed outside the node lock: a writer holds its shard lock while it takes the node
        # lock (dynamic mapping updates), so the opposite order could deadlock
        for svc in removed:
            svc.shard.close()
            shutil.rmtree(self._index_dir(svc.uuid), ignore_errors=True)

    def update_mapping(self, svc: IndexService, mapping: Mapping) -> None:
        """Adopt a merged mapping for an index and persist it."""
        with self.lock:
            svc.mapping = mapping
            self._save()
        svc.shard.set_mapping(mapping)

    # -- name resolution --------------------------------------------------------------------
    def alias_names(self) -> dict[str, list[IndexService]]:
        """Alias name → indices it points to."""
        out: dict[str, list[IndexService]] = {}
        for svc in self.indices.values():
            for alias in svc.aliases:
                out.setdefault(alias, []).append(svc)
        return out

    def resolve(self, expression: str | None, *, ignore_unavailable: bool = False,
                allow_no_indices: bool = True, expand_wildcards: str = "open",
                aliases: bool = True) -> list[Target]:
        """Indices named by an expression (`a,b*,-c`, aliases, `_all`) in Elasticsearch's way."""
        parts = [resolve_date_math_name(p.strip()) for p in (expression or "_all").split(",")
                 if p.strip()]
        if not parts:
            parts = ["_all"]
        include_hidden = "hidden" in expand_wildcards or "all" in expand_wildcards
        wildcards_on = expand_wildcards != "none"
        chosen: dict[str, Target] = {}
        alias_map = self.alias_names() if aliases else {}
        for i, part in enumerate(parts):
            if part.startswith("-") and i > 0:
                pattern = part[1:]
                for name in list(chosen):
                    if fnmatch.fnmatchcase(name, pattern):
                        del chosen[name]
                continue
            if part in ("_all", "*") and wildcards_on:
                for svc in self.indices.values():
                    if include_hidden or not (svc.hidden or svc.name.startswith(".")):
                        chosen.setdefault(svc.name, Target(svc))
                continue
            if "*" in part or "?" in part:
                if not wildcards_on:
                    continue
                regex = re.compile(fnmatch.translate(part))
                for svc in self.indices.values():
                    hidden = svc.hidden or (svc.name.startswith(".") and not part.startswith("."))
                    if regex.match(svc.name) and (include_hidden or not hidden):
                        chosen.setdefault(svc.name, Target(svc))
                for alias, services in alias_map.items():
                    if regex.match(alias):
                        for svc in services:
                            self._add_alias_target(chosen, svc, alias)
                continue
            if part in self.indices:
                chosen[part] = Target(self.indices[part])
            elif part in alias_map:
                for svc in alias_map[part]:
                    self._add_alias_target(chosen, svc, part)
            elif not ignore_unavailable:
                raise IndexNotFound(part)
        if not chosen and not allow_no_indices:
            raise IndexNotFound(expression or "_all")
        return list(chosen.values())

    @staticmethod
    def _add_alias_target(chosen: dict[str, Target], svc: IndexService, alias: str) -> None:
        flt = svc.aliases[alias].get("filter")
        existing = chosen.get(svc.name)
        if existing is None:
            chosen[svc.name] = Target(svc, [flt] if flt else None)
        elif existing.alias_filters is not None:
            if flt:
                existing.alias_filters.append(flt)
            else:
                existing.alias_filters = None

    def write_index(self, name: str, *, auto_create: bool = True) -> IndexService:
        """The index a write to `name` goes to (an index, or an alias's write index)."""
        name = resolve_date_math_name(name)
        with self.lock:
            if name in self.indices:
                return self.indices[name]
            services = self.alias_names().get(name)
            if services:
                writers = [s for s in services if s.aliases[name].get("is_write_index")]
                if len(writers) == 1:
                    return writers[0]
                if len(services) == 1 and services[0].aliases[name].get("is_write_index") \
                        is not False:
                    return services[0]
                raise BadRequest(
                    f"no write index is defined for alias [{name}]. The write index may be "
                    f"explicitly disabled using is_write_index=false or the alias points to "
                    f"multiple indices without one being designated as a write index")
            if not auto_create:
                raise IndexNotFound(name)
            self.cluster_settings.check_auto_create(name)
            return self.create_index(name, None)

    def get_index(self, name: str) -> IndexService:
        """An index by concrete name, or through an alias pointing to exactly one index."""
        targets = self.resolve(name)
        if len(targets) != 1:
            raise BadRequest(f"alias [{name}] has more than one index associated with it "
                             f"[{', '.join(t.index.name for t in targets)}], can't execute a "
                             f"single index op")
        return targets[0].index


def alias_body(name: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    """A validated alias definition (`filter`, `routing`, `is_write_index`, `is_hidden`)."""
    spec = dict(spec or {})
    allowed = {"filter", "routing", "index_routing", "search_routing", "is_write_index",
               "is_hidden"}
    for key in spec:
        if key not in allowed:
            raise EngineError(f"[aliases] unknown field [{key}]", status=400,
                              error_type="x_content_parse_exception")
    if name.startswith(("_", "-", "+")) or any(c in _INVALID_CHARS for c in name):
        raise BadRequest(f"Invalid alias name [{name}]: must not contain the following "
                         f"characters [ , \", *, \\, <, |, ,, >, /, ?]"
                         if not name.startswith(("_", "-", "+")) else
                         f"Invalid alias name [{name}]: must not start with '_', '-', or '+'",
                         error_type="invalid_alias_name_exception")
    routing = spec.pop("routing", None)
    if routing is not None:
        spec.setdefault("index_routing", str(routing))
        spec.setdefault("search_routing", str(routing))
    return spec


def _seconds(value: Any) -> float | None:
    text = str(value)
    if text in ("-1", "-1s"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text)
    if not match:
        return 1.0
    number = float(match.group(1))
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 0.001}[match.group(2)]
