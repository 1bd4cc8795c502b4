"""The cluster service: root info, cluster health, the license and the per-index `_cat` rows."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import licenses
from .errors import BadRequest
from .node import CLUSTER_NAME, VERSION, Node

if TYPE_CHECKING:
    from .ml import MlService
    from .node import IndexService

STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}
_TRIAL_MILLIS = 30 * 86400 * 1000


def index_health(svc: IndexService) -> str:
    """An index's health on one node: yellow when it asks for replicas (never assigned)."""
    return "yellow" if int(svc.setting("number_of_replicas", "1") or 0) > 0 else "green"


def _size(num: int) -> str:
    for unit, factor in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if num >= factor:
            value = num / factor
            return f"{value:.1f}{unit}".replace(".0" + unit, unit)
    return f"{num}b"


class ClusterService:
    """What the node reports about itself, and the license it runs under."""

    def __init__(self, node: Node, ml: MlService, *, security_enabled: bool) -> None:
        self.node = node
        self.ml = ml
        self.security_enabled = security_enabled

    def info(self) -> dict[str, Any]:
        """`GET /`: the node's name, cluster and version."""
        return {
            "name": "es-rag-engine", "cluster_name": CLUSTER_NAME,
            "cluster_uuid": self.node.cluster_uuid,
            "version": {"number": VERSION, "build_flavor": "default", "build_type": "tar",
                        "build_hash": "es-rag-embedded", "build_date": "2025-07-01T00:00:00Z",
                        "build_snapshot": False, "lucene_version": "10.2.2",
                        "minimum_wire_compatibility_version": "8.19.0",
                        "minimum_index_compatibility_version": "8.0.0"},
            "tagline": "You Know, for Search"}

    def health(self, index: str | None, options: dict[str, Any], level: str,
               wait_for_status: str | None) -> tuple[dict[str, Any], int]:
        """Cluster health over `index` (all indices when None) and its HTTP status (408 when
        `wait_for_status` is not reached: the node never changes while it waits)."""
        node = self.node
        services = [t.index for t in node.resolve(index, **options)] \
            if index else list(node.indices.values())
        status = max((index_health(s) for s in services), key=STATUS_RANK.get,
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
        if level in ("indices", "shards"):
            body["indices"] = {s.name: _index_entry(s, level) for s in services}
        if wait_for_status is not None:
            if wait_for_status not in STATUS_RANK:
                raise BadRequest(f"unknown cluster health status [{wait_for_status}]")
            if STATUS_RANK[status] > STATUS_RANK[wait_for_status]:
                body["timed_out"] = True
                return body, 408
        return body, 200

    def license(self) -> dict[str, Any]:
        """`GET /_license`: the license the node runs under."""
        lic = self.node.license
        if "issued_to" in lic:  # installed with PUT _license
            return {"license": licenses.rest_view(lic)}
        issued = lic["issue_date_in_millis"]
        body = {"status": "active", "uid": lic["uid"], "type": lic["type"],
                "issue_date": licenses.iso_millis(issued),
                "issue_date_in_millis": issued, "max_nodes": 1000, "max_resource_units": None,
                "issued_to": CLUSTER_NAME, "issuer": "elasticsearch",
                "start_date_in_millis": -1}
        if lic["type"] == "trial":
            body["expiry_date_in_millis"] = issued + _TRIAL_MILLIS
        return {"license": body}

    def put_license(self, body: Any, acknowledged: bool) -> dict[str, Any]:
        """`PUT _license`: install a license (see `licenses.py`: signatures are not verified)."""
        node = self.node
        lic = licenses.parse_license(body)
        answer, install = licenses.register(node.license, lic, acknowledged)
        if install:
            node.license = {**lic, "trial_used": node.license.get("trial_used") or
                            lic["type"] == "trial"}
            node.save()
        return answer

    def start_license(self, kind: str, acknowledged: bool) -> tuple[dict[str, Any], int]:
        """Switch to the `basic` or `trial` license (persisted) and the answer's status."""
        node = self.node
        if not acknowledged:
            return {
                "acknowledged": False, f"{kind}_was_started" if kind == "trial" else
                "basic_was_started": False,
                "error_message": "Operation failed: Needs acknowledgement.",
                "acknowledge": {"message": f"This license update requires acknowledgement. "
                                           f"To acknowledge the license, please read the "
                                           f"following messages and call /start_{kind} "
                                           f"again, this time with the \"acknowledge=true\" "
                                           f"parameter:"}}, 200
        current = node.license["type"]
        if kind == "trial" and current == "trial" and node.license.get("trial_used"):
            return {"acknowledged": True, "trial_was_started": False,
                    "error_message": "Operation failed: Trial was already activated."}, 403
        node.license = {"uid": node.license["uid"], "type": kind,
                        "issue_date_in_millis": int(time.time() * 1000),
                        "trial_used": node.license.get("trial_used") or kind == "trial"}
        node.save()
        key = "trial_was_started" if kind == "trial" else "basic_was_started"
        body: dict[str, Any] = {"acknowledged": True, key: True}
        if kind == "trial":
            body["type"] = "trial"
        return body, 200

    def settings(self, flat: bool, include_defaults: bool) -> dict[str, Any]:
        """`GET _cluster/settings`: the persistent and transient settings."""
        return self.node.cluster_settings.get(flat, include_defaults)

    def put_settings(self, body: Any, flat: bool) -> dict[str, Any]:
        """`PUT _cluster/settings`: validate, store and echo the changed settings."""
        return self.node.cluster_settings.update(body, flat)

    def basic_status(self) -> dict[str, Any]:
        return {"eligible_to_start_basic": self.node.license["type"] != "basic"}

    def trial_status(self) -> dict[str, Any]:
        return {"eligible_to_start_trial": not self.node.license.get("trial_used")}

    def index_rows(self, index: str | None, options: dict[str, Any], health: str | None
                   ) -> list[dict[str, str]]:
        """`_cat/indices` rows (every column, as text), sorted by name, of one `health` when
        given."""
        services = sorted((t.index for t in self.node.resolve(index, **options)),
                          key=lambda s: s.name)
        rows = []
        for s in services:
            size = s.shard.size_bytes()
            created = datetime.fromtimestamp(s.created / 1000, UTC)
            rows.append({
                "health": index_health(s), "status": "open", "index": s.name, "uuid": s.uuid,
                "pri": s.setting("number_of_shards", "1"),
                "rep": s.setting("number_of_replicas", "1"),
                "docs.count": str(s.shard.store.count()), "docs.deleted": "0",
                "store.size": _size(size), "pri.store.size": _size(size),
                "dataset.size": _size(size), "creation.date": str(s.created),
                "creation.date.string": created.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{created.microsecond // 1000:03d}Z"})
        if health and health not in STATUS_RANK:
            raise BadRequest(f"Unknown value for health: [{health}]")
        return [r for r in rows if r["health"] == health] if health else rows

    def xpack(self, categories: set[str]) -> dict[str, Any]:
        """`GET /_xpack`: build, license and features, those of `categories`."""
        lic = self.node.license
        info = {"build": {"hash": "es-rag-embedded", "date": "2025-07-01"},
                "license": {"uid": lic["uid"], "type": lic["type"], "mode": lic["type"],
                            "status": self.license()["license"]["status"]},
                "features": {
                    "security": {"available": True, "enabled": self.security_enabled},
                    "ml": {"available": self.ml.licensed, "enabled": True}}}
        return {k: v for k, v in info.items() if k in categories}


def _index_entry(s: IndexService, level: str) -> dict[str, Any]:
    n = int(s.setting("number_of_shards", "1"))
    r = int(s.setting("number_of_replicas", "1") or 0)
    entry: dict[str, Any] = {
        "status": index_health(s), "number_of_shards": n,
        "number_of_replicas": r, "active_primary_shards": n, "active_shards": n,
        "relocating_shards": 0, "initializing_shards": 0,
        "unassigned_shards": n * r, "unassigned_primary_shards": 0}
    if level == "shards":
        entry["shards"] = {str(i): {
            "status": index_health(s), "primary_active": True, "active_shards": 1,
            "relocating_shards": 0, "initializing_shards": 0,
            "unassigned_shards": r, "unassigned_primary_shards": 0}
            for i in range(n)}
    return entry
