"""Root info, cluster health, license, `_cat/indices` and `_capabilities` routes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest
from ..node import CLUSTER_NAME, VERSION
from ..search.service import resolve_options
from . import cat
from .capabilities import supported
from .rest import RestRequest, RestResponse, Router

if TYPE_CHECKING:
    from ..app import EngineApp
    from ..node import IndexService

_HEALTH_PARAMS = ("wait_for_status timeout level wait_for_active_shards local master_timeout "
                  "wait_for_no_relocating_shards wait_for_no_initializing_shards wait_for_nodes "
                  "wait_for_events expand_wildcards")
_CAT_PARAMS = "format v h s bytes health pri expand_wildcards help time master_timeout local"
_STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}
# cat column → (aliases)
_CAT_COLUMNS = {
    "health": ("h",), "status": ("s",), "index": ("i", "idx"), "uuid": ("id",),
    "pri": ("p", "shards.primary", "shardsPrimary"), "rep": ("r", "shards.replica"),
    "docs.count": ("dc", "docsCount"), "docs.deleted": ("dd", "docsDeleted"),
    "store.size": ("ss", "storeSize"), "pri.store.size": (), "dataset.size": (),
    "creation.date": ("cd",), "creation.date.string": ("cds",),
}
_DEFAULT_CAT = ["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted",
                "store.size", "pri.store.size", "dataset.size"]
# the descriptions `?help` lists (RestIndicesAction's table)
_CAT_HELP = {
    "health": "current health status", "status": "open/close status", "index": "index name",
    "uuid": "index uuid", "pri": "number of primary shards", "rep": "number of replica shards",
    "docs.count": "available docs", "docs.deleted": "deleted docs",
    "store.size": "store size of primaries & replicas", "pri.store.size": "store size of primaries",
    "dataset.size": "total size of dataset", "creation.date": "index creation date (millisecond "
    "value)", "creation.date.string": "index creation date (as string)",
}


def _index_health(svc: IndexService) -> str:
    return "yellow" if int(svc.setting("number_of_replicas", "1") or 0) > 0 else "green"


def _size(num: int) -> str:
    for unit, factor in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if num >= factor:
            value = num / factor
            return f"{value:.1f}{unit}".replace(".0" + unit, unit)
    return f"{num}b"


def register(router: Router, app: EngineApp) -> None:
    node = app.node

    def info(req: RestRequest) -> RestResponse:
        return RestResponse({
            "name": "es-rag-engine", "cluster_name": CLUSTER_NAME,
            "cluster_uuid": node.cluster_uuid,
            "version": {"number": VERSION, "build_flavor": "default", "build_type": "tar",
                        "build_hash": "es-rag-embedded", "build_date": "2025-07-01T00:00:00Z",
                        "build_snapshot": False, "lucene_version": "10.2.2",
                        "minimum_wire_compatibility_version": "8.19.0",
                        "minimum_index_compatibility_version": "8.0.0"},
            "tagline": "You Know, for Search"})

    def health(req: RestRequest) -> RestResponse:
        index = req.path_params.get("index")
        services = [t.index for t in node.resolve(index, **resolve_options(req.params))] \
            if index else list(node.indices.values())
        status = max((_index_health(s) for s in services), key=_STATUS_RANK.get,
                     default="green")
        shards = sum(int(s.setting("number_of_shards", "1")) for s in services)
        unassigned = sum(int(s.setting("number_of_shards", "1")) *
                         int(s.setting("number_of_replicas", "1") or 0) for s in services)
        body: dict[str, Any] = {
            "cluster_name": CLUSTER_NAME, "status": status, "timed_out": False,
            "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": shards,
            "active_shards": shards, "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": unassigned, "unassigned_primary_shards": 0,
            "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0 * shards / (shards + unassigned)
            if shards + unassigned else 100.0}
        level = req.params.get("level", "cluster")
        if level in ("indices", "shards"):
            body["indices"] = {}
            for s in services:
                n = int(s.setting("number_of_shards", "1"))
                r = int(s.setting("number_of_replicas", "1") or 0)
                entry: dict[str, Any] = {
                    "status": _index_health(s), "number_of_shards": n,
                    "number_of_replicas": r, "active_primary_shards": n, "active_shards": n,
                    "relocating_shards": 0, "initializing_shards": 0,
                    "unassigned_shards": n * r, "unassigned_primary_shards": 0}
                if level == "shards":
                    entry["shards"] = {str(i): {
                        "status": _index_health(s), "primary_active": True, "active_shards": 1,
                        "relocating_shards": 0, "initializing_shards": 0,
                        "unassigned_shards": r, "unassigned_primary_shards": 0}
                        for i in range(n)}
                body["indices"][s.name] = entry
        wanted = req.params.get("wait_for_status")
        if wanted is not None:
            if wanted not in _STATUS_RANK:
                raise BadRequest(f"unknown cluster health status [{wanted}]")
            if _STATUS_RANK[status] > _STATUS_RANK[wanted]:
                body["timed_out"] = True
                return RestResponse(body, 408)
        return RestResponse(body)

    def license_get(req: RestRequest) -> RestResponse:
        lic = node.license
        issued = lic["issue_date_in_millis"]
        body = {"status": "active", "uid": lic["uid"], "type": lic["type"],
                "issue_date": datetime.fromtimestamp(issued / 1000, UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
                "issue_date_in_millis": issued, "max_nodes": 1000, "max_resource_units": None,
                "issued_to": CLUSTER_NAME, "issuer": "elasticsearch",
                "start_date_in_millis": -1}
        if lic["type"] == "trial":
            expiry = issued + 30 * 86400 * 1000
            body["expiry_date_in_millis"] = expiry
        return RestResponse({"license": body})

    def start(kind: str) -> Any:
        def handler(req: RestRequest) -> RestResponse:
            if not req.flag("acknowledge"):
                return RestResponse({
                    "acknowledged": False, f"{kind}_was_started" if kind == "trial" else
                    "basic_was_started": False,
                    "error_message": "Operation failed: Needs acknowledgement.",
                    "acknowledge": {"message": f"This license update requires acknowledgement. "
                                               f"To acknowledge the license, please read the "
                                               f"following messages and call /start_{kind} "
                                               f"again, this time with the \"acknowledge=true\" "
                                               f"parameter:"}})
            current = node.license["type"]
            if kind == "trial" and current == "trial" and node.license.get("trial_used"):
                return RestResponse({"acknowledged": True, "trial_was_started": False,
                                     "error_message": "Operation failed: Trial was already "
                                                      "activated."}, 403)
            node.license = {**node.license, "type": kind,
                            "issue_date_in_millis": int(time.time() * 1000),
                            "trial_used": node.license.get("trial_used") or kind == "trial"}
            node.save()
            key = "trial_was_started" if kind == "trial" else "basic_was_started"
            body: dict[str, Any] = {"acknowledged": True, key: True}
            if kind == "trial":
                body["type"] = "trial"
            return RestResponse(body)
        return handler

    def basic_status(req: RestRequest) -> RestResponse:
        return RestResponse({"eligible_to_start_basic": node.license["type"] != "basic"})

    def trial_status(req: RestRequest) -> RestResponse:
        return RestResponse({"eligible_to_start_trial": not node.license.get("trial_used")})

    def cat_indices(req: RestRequest) -> RestResponse:
        if req.flag("help"):
            return RestResponse(cat.help_text([
                cat.Column(name, aliases, _CAT_HELP[name])
                for name, aliases in _CAT_COLUMNS.items()]), text=True)
        index = req.path_params.get("index")
        opts = resolve_options(req.params)
        opts["expand_wildcards"] = req.params.get("expand_wildcards", "all")
        services = sorted((t.index for t in node.resolve(index, **opts)), key=lambda s: s.name)
        rows = []
        for s in services:
            size = s.shard.size_bytes()
            created = datetime.fromtimestamp(s.created / 1000, UTC)
            rows.append({
                "health": _index_health(s), "status": "open", "index": s.name, "uuid": s.uuid,
                "pri": s.setting("number_of_shards", "1"),
                "rep": s.setting("number_of_replicas", "1"),
                "docs.count": str(s.shard.store.count()), "docs.deleted": "0",
                "store.size": _size(size), "pri.store.size": _size(size),
                "dataset.size": _size(size), "creation.date": str(s.created),
                "creation.date.string": created.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{created.microsecond // 1000:03d}Z"})
        wanted = req.params.get("health")
        if wanted and wanted not in _STATUS_RANK:
            raise BadRequest(f"Unknown value for health: [{wanted}]")
        if wanted:
            rows = [r for r in rows if r["health"] == wanted]
        columns = _cat_columns(req.params.get("h"))
        if req.params.get("format") == "json":
            return RestResponse([{c: r[c] for c in columns} for r in rows])
        table = [[r[c] for c in columns] for r in rows]
        if req.flag("v"):
            table.insert(0, columns)
        if not table:
            return RestResponse("", text=True)
        widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
        lines = [" ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
                 for row in table]
        return RestResponse("\n".join(lines) + "\n", text=True)

    def capabilities(req: RestRequest) -> RestResponse:
        names = [c for c in req.params.get("capabilities", "").split(",") if c]
        return RestResponse({"supported": supported(
            req.params.get("method", "GET"), req.params.get("path", "/"), names)})

    def get_settings(req: RestRequest) -> RestResponse:
        return RestResponse(node.cluster_settings.get(req.flag("flat_settings"),
                                                      req.flag("include_defaults")))

    def put_settings(req: RestRequest) -> RestResponse:
        return RestResponse(node.cluster_settings.update(req.json(), req.flag("flat_settings")))

    def xpack(req: RestRequest) -> RestResponse:
        info = {"build": {"hash": "es-rag-embedded", "date": "2025-07-01"},
                "license": {"uid": node.license["uid"], "type": node.license["type"],
                            "mode": node.license["type"], "status": "active"},
                "features": {
                    "security": {"available": True, "enabled": app.gate is not None},
                    "ml": {"available": app.ml.licensed, "enabled": True}}}
        wanted = _xpack_categories(req.params.get("categories", "_all"))
        return RestResponse({k: v for k, v in info.items() if k in wanted})

    router.add("GET HEAD", "/", info)
    router.add("GET", "/_cluster/health", health, _HEALTH_PARAMS)
    router.add("GET", "/_cluster/health/{index}", health,
               _HEALTH_PARAMS + " ignore_unavailable allow_no_indices")
    router.add("GET", "/_license", license_get, "local accept_enterprise")
    router.add("POST", "/_license/start_basic", start("basic"), "acknowledge master_timeout "
                                                                "timeout")
    router.add("POST", "/_license/start_trial", start("trial"), "acknowledge type "
                                                                "master_timeout")
    router.add("GET", "/_license/basic_status", basic_status)
    router.add("GET", "/_license/trial_status", trial_status)
    router.add("GET", "/_cat/indices", cat_indices, _CAT_PARAMS)
    router.add("GET", "/_cat/indices/{index}", cat_indices, _CAT_PARAMS)
    router.add("GET", "/_capabilities", capabilities, "method path parameters capabilities "
                                                      "local_only")
    router.add("GET", "/_xpack", xpack, "categories accept_enterprise")
    router.add("GET", "/_cluster/settings", get_settings,
               "flat_settings include_defaults master_timeout timeout")
    router.add("PUT", "/_cluster/settings", put_settings, "flat_settings master_timeout timeout")


def _xpack_categories(value: str) -> set[str]:
    """XPackInfoRequest.Category.toSet: `_all`, `_none`, or names of build/license/features."""
    wanted: set[str] = set()
    for name in value.split(","):
        if name == "_all":
            return {"build", "license", "features"}
        if name == "_none":
            return set()
        if name.lower() not in ("build", "license", "features"):
            raise BadRequest("No enum constant org.elasticsearch.protocol.xpack.XPackInfoRequest"
                             f".Category.{name.upper()}")
        wanted.add(name.lower())
    return wanted


def _cat_columns(spec: str | None) -> list[str]:
    if not spec:
        return list(_DEFAULT_CAT)
    out = []
    for name in spec.split(","):
        name = name.strip()
        for column, aliases in _CAT_COLUMNS.items():
            if name == column or name in aliases:
                out.append(column)
                break
        else:
            raise BadRequest(f"Unknown header: [{name}]")
    return out
