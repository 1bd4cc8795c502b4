"""Index administration: get, delete, mappings, settings and aliases (the services behind
the `indices.*` REST routes)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import BadRequest, EngineError, IndexNotFound, ResourceNotFound
from .index import analyze_api
from .index import settings as index_settings
from .index.mapping.nested import check_nested_fields_limit
from .index.similarity import check_mapping as check_similarities
from .node import IndexService, Node, alias_body

if TYPE_CHECKING:
    from .security.fls import FieldAccess

_DYNAMIC_SETTINGS = {"number_of_replicas", "refresh_interval", "default_pipeline",
                     "final_pipeline", "max_result_window", "hidden", "auto_expand_replicas"}


class IndexAdmin:
    """Index-level operations of a node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def services(self, expression: str | None, opts: dict[str, Any]) -> list[IndexService]:
        return [t.index for t in self.node.resolve(expression, **opts)]

    def create(self, name: str, body: dict[str, Any] | None) -> str:
        """`PUT /{index}`: a new index with its settings, mappings and aliases; its name (a
        date math name resolved)."""
        return self.node.create_index(name, body).name

    def refresh(self, expression: str | None, opts: dict[str, Any], *, flush: bool = False
                ) -> dict[str, int]:
        """`_refresh` (and `_flush`, which also persists the vector graphs) of the indices
        `expression` names; the broadcast's `_shards`: every shard copy counts in `total`,
        the active ones (the primaries, on one node) in `successful`."""
        total = successful = 0
        for svc in self.services(expression, opts):
            svc.shard.refresh()
            if flush:
                svc.shard.save_vectors()
            copies, active = svc.shard_copies
            total, successful = total + copies, successful + active
        return {"total": total, "successful": successful, "failed": 0}

    def analyze(self, body: dict[str, Any], index: str | None) -> dict[str, Any]:
        """`_analyze`, with an index's analyzers when one is named."""
        return analyze_api.analyze(body, self.node.get_index(index) if index else None)

    def get(self, expression: str, opts: dict[str, Any], flat: bool,
            include_defaults: bool = False) -> dict[str, Any]:
        """`GET /{index}`."""
        out: dict[str, Any] = {}
        for svc in self.services(expression, opts):
            out[svc.name] = {"aliases": svc.aliases, "mappings": svc.mapping.to_json(),
                             "settings": self._settings(svc, flat)}
            if include_defaults:
                out[svc.name]["defaults"] = self._defaults(svc, flat)
        return out

    def _defaults(self, svc: IndexService, flat: bool, names: list[str] | None = None
                  ) -> dict[str, Any]:
        """The default values of the settings an index does not set."""
        own = index_settings.flatten(svc.full_settings().get("index", {}), "index.")
        found = {k: v for k, v in index_settings.DEFAULTS.items() if k not in own and
                 (names is None or any(fnmatch.fnmatchcase(k, p) for p in names))}
        return found if flat else index_settings.nest(found)

    @staticmethod
    def _settings(svc: IndexService, flat: bool) -> dict[str, Any]:
        nested = svc.full_settings()
        if not flat:
            return nested
        return index_settings.flatten(nested["index"], "index.") if nested else {}

    def delete(self, expression: str, opts: dict[str, Any]) -> None:
        """`DELETE /{index}`; an alias name is refused as in Elasticsearch 8+."""
        aliases = self.node.alias_names()
        for part in expression.split(","):
            if part in aliases and part not in self.node.indices:
                raise BadRequest(f"The provided expression [{part}] matches an alias, specify "
                                 f"the corresponding concrete indices instead.")
        targets = self.node.resolve(expression, aliases=False, **opts)
        self.node.delete_indices([t.index for t in targets])

    def get_mapping(self, expression: str | None, opts: dict[str, Any],
                    fields_of: Callable[[str], FieldAccess | None] = lambda name: None
                    ) -> dict[str, Any]:
        """The mappings of the indices `expression` names; `fields_of(index)` is what
        field-level security lets the caller see of each (hidden fields are left out)."""
        out = {}
        for svc in self.services(expression, opts):
            mapping = svc.mapping.to_json()
            visible = fields_of(svc.name)
            if visible is not None and isinstance(mapping.get("properties"), dict):
                mapping = {**mapping, "properties": visible.filter_properties(
                    mapping["properties"])}
            out[svc.name] = {"mappings": mapping}
        return out

    def put_mapping(self, expression: str, body: dict[str, Any], opts: dict[str, Any]) -> None:
        """Merge a mapping into each index (all-or-nothing: validated on every index first)."""
        if not isinstance(body, dict):
            raise BadRequest("mapping source must be an object")
        if "_doc" in body:
            raise BadRequest("Types cannot be provided in put mapping requests")
        services = self.services(expression, opts)
        merged = [(s, s.mapping.merged(body)) for s in services]
        for svc, mapping in merged:
            check_similarities(mapping.fields.values(), svc.settings)
            check_nested_fields_limit(mapping, svc.settings)
        for svc, mapping in merged:
            self.node.update_mapping(svc, mapping)

    def get_settings(self, expression: str | None, name: str | None, opts: dict[str, Any],
                     flat: bool, include_defaults: bool = False) -> dict[str, Any]:
        out = {}
        patterns = name.split(",") if name else None
        for svc in self.services(expression, opts):
            settings = self._settings(svc, True)
            if patterns:
                settings = {k: v for k, v in settings.items()
                            if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
            if not flat:
                settings = index_settings.nest(settings)
            out[svc.name] = {"settings": settings}
            if include_defaults:
                out[svc.name]["defaults"] = self._defaults(svc, flat, patterns)
        return out

    def put_settings(self, expression: str | None, body: dict[str, Any],
                     opts: dict[str, Any]) -> None:
        """Update dynamic settings; static ones are refused as on an open index."""
        body = body.get("settings", body) if isinstance(body, dict) else {}
        flat = index_settings.validate(index_settings.flatten(body))
        for key in flat:
            if key in index_settings.FINAL:
                raise BadRequest(f"final index setting [{key}], not updateable")
        static = sorted(k for k in flat if k[len("index."):] not in _DYNAMIC_SETTINGS
                        and not k.startswith(("index.blocks.", "index.routing.",
                                              "index.mapping.", "index.search.",
                                              "index.max_")))
        if static:
            raise BadRequest(f"Can't update non dynamic settings [[{', '.join(static)}]] for "
                             f"open indices [{expression}]")
        with self.node.lock:
            for svc in self.services(expression, opts):
                for key, value in flat.items():
                    if value is None:
                        svc.settings.pop(key, None)
                    else:
                        svc.settings[key] = value
            self.node.save()

    # -- aliases ------------------------------------------------------------------------------
    def put_alias(self, expression: str, name: str, body: dict[str, Any] | None) -> None:
        self.update_aliases({"actions": [{"add": {"index": expression, "alias": name,
                                                  **(body or {})}}]})

    def delete_alias(self, expression: str, names: str) -> None:
        services = self.services(expression, {})
        removed = False
        with self.node.lock:
            for svc in services:
                for alias in list(svc.aliases):
                    if any(fnmatch.fnmatchcase(alias, n) or n == "_all"
                           for n in names.split(",")):
                        del svc.aliases[alias]
                        removed = True
            if not removed:
                raise EngineError(f"aliases [{names}] missing", status=404,
                                  error_type="aliases_not_found_exception",
                                  **{"resource.type": "aliases", "resource.id": names})
            self.node.save()

    def update_aliases(self, body: dict[str, Any]) -> None:
        """`POST /_aliases`: add / remove / remove_index actions, applied atomically."""
        actions = body.get("actions") if isinstance(body, dict) else None
        if not isinstance(actions, list) or not actions:
            raise EngineError("Validation Failed: 1: no actions specified;", status=400,
                              error_type="action_request_validation_exception")
        with self.node.lock:
            plan: list[tuple[str, IndexService | None, str | None, dict[str, Any]]] = []
            to_delete: list[IndexService] = []
            for action in actions:
                if not isinstance(action, dict) or len(action) != 1:
                    raise EngineError("[aliases] failed to parse field [actions]", status=400,
                                      error_type="x_content_parse_exception")
                kind, spec = next(iter(action.items()))
                if kind not in ("add", "remove", "remove_index"):
                    raise EngineError(f"[aliases] unknown field [{kind}]", status=400,
                                      error_type="x_content_parse_exception")
                indices = spec.get("indices") or [spec.get("index")]
                if indices == [None]:
                    raise EngineError("Validation Failed: 1: One of [index] or [indices] is "
                                      "required;", status=400,
                                      error_type="action_request_validation_exception")
                services = [t.index for ix in indices for t in
                            self.node.resolve(ix, aliases=False)]
                if not services:
                    raise IndexNotFound(",".join(indices))
                if kind == "remove_index":
                    to_delete.extend(services)
                    continue
                aliases = spec.get("aliases") or [spec.get("alias")]
                if aliases == [None]:
                    raise EngineError("Validation Failed: 1: One of [alias] or [aliases] is "
                                      "required;", status=400,
                                      error_type="action_request_validation_exception")
                extra = {k: v for k, v in spec.items()
                         if k not in ("index", "indices", "alias", "aliases", "must_exist")}
                for svc in services:
                    for alias in aliases:
                        if kind == "add":
                            if alias in self.node.indices:
                                raise BadRequest(
                                    f"Invalid alias name [{alias}]: an index or data stream "
                                    f"exists with the same name as the alias",
                                    error_type="invalid_alias_name_exception")
                            if extra.get("filter") is not None:
                                from .query import parse_query

                                parse_query(extra["filter"])
                            plan.append(("add", svc, alias, alias_body(alias, extra)))
                        else:
                            matches = [a for a in svc.aliases if fnmatch.fnmatchcase(a, alias)]
                            if not matches and spec.get("must_exist", False) is not False:
                                raise ResourceNotFound(f"required alias [{alias}] does not "
                                                       f"exist")
                            if not matches and spec.get("must_exist") is None:
                                raise EngineError(f"aliases [{alias}] missing", status=404,
                                                  error_type="aliases_not_found_exception")
                            plan.extend(("remove", svc, a, {}) for a in matches)
            for kind, svc, alias, spec in plan:
                assert svc is not None and alias is not None
                if kind == "add":
                    svc.aliases[alias] = spec
                else:
                    svc.aliases.pop(alias, None)
            self.node.save()
        if to_delete:
            self.node.delete_indices(to_delete)

    def get_aliases(self, expression: str | None, names: str | None, opts: dict[str, Any]
                    ) -> tuple[dict[str, Any], bool]:
        """`GET /_alias`: per index its aliases (filtered by name); False if a name is missing."""
        services = self.services(expression, opts)
        patterns = names.split(",") if names else None
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for svc in services:
            aliases = {a: spec for a, spec in svc.aliases.items()
                       if patterns is None or any(fnmatch.fnmatchcase(a, p) or p == "_all"
                                                  for p in patterns)}
            seen.update(aliases)
            if aliases or patterns is None:
                out[svc.name] = {"aliases": aliases}
        missing = [p for p in (patterns or []) if "*" not in p and p != "_all" and p not in seen]
        if missing:
            word = "alias" if len(missing) == 1 else "aliases"
            return {"error": f"{word} [{','.join(sorted(missing))}] missing", "status": 404,
                    **out}, False
        return out, True

    def alias_rows(self, names: str | None, expand_wildcards: str,
                   readable: Callable[[str], bool]) -> list[dict[str, str]]:
        """`_cat/aliases` rows (alias, index, filter, routing, is_write_index), by alias then
        index, for the aliases `names` matches (all when None) on the indices `expand_wildcards`
        reaches and `readable` admits. A hidden alias is matched by a wildcard only when
        `expand_wildcards` includes hidden ones (`all` or `hidden`), as a hidden index is."""
        hidden = any(w in ("all", "hidden") for w in expand_wildcards.split(","))
        patterns = [p for p in (names or "").split(",") if p] or ["*"]
        rows = []
        for target in self.node.resolve(None, ignore_unavailable=True, allow_no_indices=True,
                                        expand_wildcards=expand_wildcards):
            svc = target.index
            if not readable(svc.name):
                continue
            for alias, spec in svc.aliases.items():
                wildcard = [p for p in patterns if p == "_all" or "*" in p]
                if alias not in patterns and not (
                        any(p == "_all" or fnmatch.fnmatchcase(alias, p) for p in wildcard)
                        and (hidden or not spec.get("is_hidden"))):
                    continue
                write = spec.get("is_write_index")
                rows.append({"alias": alias, "index": svc.name,
                             "filter": "*" if spec.get("filter") else "-",
                             "routing.index": str(spec.get("index_routing", "-")),
                             "routing.search": str(spec.get("search_routing", "-")),
                             "is_write_index": "-" if write is None else str(write).lower()})
        return sorted(rows, key=lambda r: (r["alias"], r["index"]))
