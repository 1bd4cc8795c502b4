"""Elasticsearch's named cluster and index privileges as action patterns, and name patterns.

A privilege is a set of action patterns (`*` and `?` wildcards), optionally minus some excluded
patterns (`manage` is every cluster action except security ones). Index names in roles are
wildcard patterns or Lucene-style regular expressions written `/…/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from es_rag.engine.errors import BadRequest

_SECURITY = "cluster:admin/xpack/security/"


@dataclass(frozen=True)
class Privilege:
    """A named privilege: the actions it grants, minus the actions it explicitly excludes."""

    name: str
    patterns: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    own_api_keys_only: bool = False

    def grants(self, action: str) -> bool:
        """Whether this privilege allows `action`."""
        return (any(pattern_matches(p, action) for p in self.patterns)
                and not any(pattern_matches(p, action) for p in self.excludes))

    def covers(self, pattern: str) -> bool:
        """Whether every action `pattern` can name is granted (conservative for wildcards)."""
        return (any(pattern_covers(p, pattern) for p in self.patterns)
                and not any(patterns_overlap(p, pattern) for p in self.excludes))


def _p(name: str, *patterns: str, excludes: tuple[str, ...] = (), own: bool = False) -> Privilege:
    return Privilege(name, patterns, excludes, own)


_ALL_CLUSTER = ("cluster:*", "indices:admin/template/*", "indices:admin/index_template/*")

CLUSTER_PRIVILEGES: dict[str, Privilege] = {p.name: p for p in [
    _p("none"),
    _p("all", *_ALL_CLUSTER),
    _p("monitor", "cluster:monitor/*", "indices:admin/template/get",
       "indices:admin/index_template/get", "cluster:admin/component_template/get"),
    _p("manage", *_ALL_CLUSTER, excludes=(_SECURITY + "*",)),
    _p("manage_security", _SECURITY + "*"),
    _p("read_security", *(_SECURITY + a for a in (
        "api_key/get", "api_key/query", "privilege/builtin/get", "privilege/get", "profile/get",
        "profile/has_privileges", "profile/suggest", "role/get", "role_mapping/get",
        "service_account/get", "service_account/credential/get*", "user/get",
        "user/list_privileges", "user/has_privileges"))),
    _p("manage_api_key", _SECURITY + "api_key/*"),
    _p("manage_own_api_key", _SECURITY + "api_key/*", own=True),
    _p("grant_api_key", _SECURITY + "api_key/grant*"),
    _p("manage_token", _SECURITY + "token/*"),
    _p("manage_saml", _SECURITY + "saml/*", _SECURITY + "token/invalidate",
       _SECURITY + "token/refresh"),
    _p("manage_oidc", _SECURITY + "oidc/*"),
    _p("manage_service_account", _SECURITY + "service_account/*"),
    _p("manage_user_profile", _SECURITY + "profile/*"),
    _p("delegate_pki", _SECURITY + "delegate_pki", _SECURITY + "token/invalidate"),
    _p("manage_ingest_pipelines", "cluster:admin/ingest/pipeline/*"),
    _p("manage_pipeline", "cluster:admin/ingest/pipeline/*"),
    _p("read_pipeline", "cluster:admin/ingest/pipeline/get",
       "cluster:admin/ingest/pipeline/simulate"),
    _p("manage_index_templates", "indices:admin/template/*", "indices:admin/index_template/*",
       "cluster:admin/component_template/*"),
    _p("transport_client", "cluster:monitor/nodes/liveness", "cluster:monitor/state"),
    _p("cancel_task", "cluster:admin/tasks/cancel*"),
    _p("monitor_ml", "cluster:monitor/xpack/ml/*"),
    _p("manage_ml", "cluster:admin/xpack/ml/*", "cluster:monitor/xpack/ml/*"),
    _p("monitor_inference", "cluster:monitor/xpack/inference*"),
    _p("manage_inference", "cluster:admin/xpack/inference/*", "cluster:monitor/xpack/inference*",
       "cluster:admin/xpack/ml/trained_models/deployment/start",
       "cluster:admin/xpack/ml/trained_models/deployment/stop",
       "cluster:monitor/xpack/ml/trained_models/deployment/infer"),
    _p("monitor_text_structure", "cluster:monitor/text_structure/*"),
    _p("monitor_transform", "cluster:monitor/data_frame/*", "cluster:monitor/transform/*"),
    _p("monitor_data_frame_transforms", "cluster:monitor/data_frame/*",
       "cluster:monitor/transform/*"),
    _p("manage_transform", "cluster:admin/data_frame/*", "cluster:monitor/data_frame/*",
       "cluster:monitor/transform/*", "cluster:admin/transform/*"),
    _p("manage_data_frame_transforms", "cluster:admin/data_frame/*", "cluster:monitor/data_frame/*",
       "cluster:monitor/transform/*", "cluster:admin/transform/*"),
    _p("monitor_watcher", "cluster:monitor/xpack/watcher/*"),
    _p("manage_watcher", "cluster:admin/xpack/watcher/*", "cluster:monitor/xpack/watcher/*"),
    _p("monitor_rollup", "cluster:monitor/xpack/rollup/*"),
    _p("manage_rollup", "cluster:admin/xpack/rollup/*", "cluster:monitor/xpack/rollup/*"),
    _p("manage_autoscaling", "cluster:admin/autoscaling/*"),
    _p("manage_ccr", "cluster:admin/xpack/ccr/*", "cluster:monitor/state",
       _SECURITY + "user/has_privileges"),
    _p("read_ccr", "cluster:monitor/state", _SECURITY + "user/has_privileges"),
    _p("create_snapshot", "cluster:admin/snapshot/create", "cluster:admin/snapshot/status*",
       "cluster:admin/snapshot/get", "cluster:admin/repository/get"),
    _p("monitor_snapshot", "cluster:admin/snapshot/status*", "cluster:admin/snapshot/get",
       "cluster:admin/repository/get"),
    _p("manage_ilm", "cluster:admin/ilm/*"),
    _p("read_ilm", "cluster:admin/ilm/get", "cluster:admin/ilm/operation_mode/get"),
    _p("manage_slm", "cluster:admin/slm/*", "cluster:admin/ilm/start", "cluster:admin/ilm/stop",
       "cluster:admin/ilm/operation_mode/get"),
    _p("read_slm", "cluster:admin/slm/get", "cluster:admin/ilm/operation_mode/get"),
    _p("manage_enrich", "cluster:admin/xpack/enrich/*"),
    _p("monitor_enrich", "cluster:admin/xpack/enrich/get", "cluster:admin/xpack/enrich/stats"),
    _p("manage_logstash_pipelines", "cluster:admin/logstash/pipeline/*"),
    _p("manage_search_application", "cluster:admin/xpack/application/search_application/*"),
    _p("manage_behavioral_analytics", "cluster:admin/xpack/application/analytics/*"),
    _p("send_behavioral_analytics_event", "cluster:admin/xpack/application/analytics/post_event"),
]}

INDEX_PRIVILEGES: dict[str, Privilege] = {p.name: p for p in [
    _p("none"),
    _p("all", "indices:*", "internal:transport/proxy/indices:*"),
    _p("read", "indices:data/read/*"),
    _p("read_cross_cluster", "internal:transport/proxy/indices:data/read/*",
       "indices:admin/shards/search_shards"),
    _p("create", "indices:data/write/index*", "indices:data/write/bulk*"),
    _p("create_doc", "indices:data/write/index", "indices:data/write/index[*",
       "indices:data/write/index:op_type/create", "indices:data/write/bulk*"),
    _p("index", "indices:data/write/index*", "indices:data/write/bulk*",
       "indices:data/write/update*"),
    _p("delete", "indices:data/write/delete*", "indices:data/write/bulk*"),
    _p("write", "indices:data/write/*", "indices:admin/mapping/auto_put"),
    _p("monitor", "indices:monitor/*"),
    _p("manage", "indices:monitor/*", "indices:admin/*", "indices:data/read/field_caps*",
       "indices:admin/xpack/rollup/get/index/caps*"),
    _p("create_index", "indices:admin/create", "indices:admin/auto_create",
       "indices:admin/data_stream/create"),
    _p("delete_index", "indices:admin/delete", "indices:admin/data_stream/delete"),
    _p("view_index_metadata", "indices:admin/aliases/get", "indices:admin/get",
       "indices:admin/mappings/fields/get*", "indices:admin/mappings/get",
       "indices:admin/shards/search_shards", "indices:admin/validate/query*",
       "indices:admin/settings/get", "indices:admin/ilm/explain",
       "indices:admin/data_stream/get", "indices:admin/resolve/index",
       "indices:data/read/field_caps*", "indices:admin/xpack/rollup/get/index/caps*",
       "indices:monitor/transform/checkpoint*"),
    _p("manage_follow_index", "indices:admin/xpack/ccr/put_follow",
       "indices:admin/xpack/ccr/unfollow", "indices:admin/close*",
       "indices:admin/data_stream/promote", "indices:admin/rollover"),
    _p("manage_leader_index", "indices:admin/xpack/ccr/forget_follower*"),
    _p("manage_ilm", "indices:admin/ilm/*"),
    _p("maintenance", "indices:admin/refresh*", "indices:admin/flush*",
       "indices:admin/synced_flush", "indices:admin/forcemerge*"),
    _p("auto_configure", "indices:admin/mapping/auto_put", "indices:admin/auto_create"),
]}


def is_cluster_action(action: str) -> bool:
    """Whether `action` is authorized by cluster privileges (as Elasticsearch decides)."""
    return any(pattern_matches(p, action) for p in _ALL_CLUSTER)


def is_index_action(action: str) -> bool:
    """Whether `action` is authorized by index privileges."""
    return action.startswith("indices:") and not is_cluster_action(action)


def cluster_privilege(name: str) -> Privilege:
    """The cluster privilege called `name`, or one granting a cluster action pattern."""
    key = name.lower()
    if is_cluster_action(key):
        return _action_privilege(key)
    if key in CLUSTER_PRIVILEGES:
        return CLUSTER_PRIVILEGES[key]
    raise BadRequest(
        f"unknown cluster privilege [{key}]. a privilege must be either one of the predefined "
        f"cluster privilege names [{','.join(_cluster_order())}] or a pattern over one of the "
        "available cluster actions")


def index_privilege(name: str) -> Privilege:
    """The index privilege called `name`, or one granting an index action pattern."""
    key = name.lower()
    if pattern_matches("indices:*", key) or pattern_matches("internal:transport/proxy/*", key):
        return _action_privilege(key)
    if key in INDEX_PRIVILEGES:
        return INDEX_PRIVILEGES[key]
    raise BadRequest(
        f"unknown index privilege [{key}]. a privilege must be either one of the predefined fixed "
        f"indices privileges [{','.join(f'{n}=[{n}]' for n in _index_order())}] or a pattern over "
        "one of the available index actions")


def _action_privilege(pattern: str) -> Privilege:
    """A privilege named by an action pattern: it grants the actions starting with it."""
    return Privilege(pattern, (pattern if pattern.endswith("*") else pattern + "*",))


def privileges_granting(action: str) -> list[str]:
    """Names of the privileges granting `action`, least privileged first, as in ES's 403 bodies."""
    if is_cluster_action(action):
        return [n for n in _cluster_order() if CLUSTER_PRIVILEGES[n].grants(action)]
    if is_index_action(action):
        return [n for n in _index_order() if INDEX_PRIVILEGES[n].grants(action)]
    return []


def _subset(a: Privilege, b: Privilege) -> bool:
    return all(b.covers(p) for p in a.patterns)


@lru_cache(maxsize=1)
def _index_order() -> tuple[str, ...]:
    # Elasticsearch sorts by how many other privileges each one is a subset of (most first)
    values = INDEX_PRIVILEGES.values()
    count = {p.name: sum(1 for o in values if o is not p and _subset(p, o)) for p in values}
    return tuple(sorted(count, key=lambda n: (-count[n], n)))


@lru_cache(maxsize=1)
def _cluster_order() -> tuple[str, ...]:
    # Elasticsearch sorts by how many other privileges each one implies (fewest first)
    values = CLUSTER_PRIVILEGES.values()
    count = {p.name: sum(1 for o in values if o is not p and _subset(o, p)) for p in values}
    return tuple(sorted(count, key=lambda n: (count[n], n)))


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether `name` matches `pattern` (`*`/`?` wildcards, or a regular expression in `/…/`)."""
    return _compiled(pattern).fullmatch(name) is not None


def pattern_covers(outer: str, inner: str) -> bool:
    """Whether every name matched by pattern `inner` is also matched by pattern `outer`.

    Exact for concrete names; for wildcard `inner` patterns only the shapes roles use in
    practice (`*`, prefix `abc*`) are recognised, and anything else is conservatively not covered.
    """
    if not _is_pattern(inner):
        return pattern_matches(outer, inner)
    if outer == inner or outer == "*":
        return True
    if _is_prefix_pattern(outer) and _is_prefix_pattern(inner):
        return inner[:-1].startswith(outer[:-1])
    return False


def patterns_overlap(a: str, b: str) -> bool:
    """Whether some name could match both patterns (approximate: prefix patterns and names)."""
    if not _is_pattern(a) or not _is_pattern(b):
        return pattern_matches(a, b) if not _is_pattern(b) else pattern_matches(b, a)
    if _is_prefix_pattern(a) and _is_prefix_pattern(b):
        return a[:-1].startswith(b[:-1]) or b[:-1].startswith(a[:-1])
    return True


def any_matches(patterns: Iterable[str], name: str) -> bool:
    """Whether `name` matches any of `patterns`."""
    return any(pattern_matches(p, name) for p in patterns)


def _is_pattern(text: str) -> bool:
    return "*" in text or "?" in text or (len(text) > 1 and text[0] == "/" and text[-1] == "/")


def _is_prefix_pattern(text: str) -> bool:
    return text.endswith("*") and not _is_pattern(text[:-1])


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    if len(pattern) > 1 and pattern[0] == "/" and pattern[-1] == "/":
        try:
            return re.compile(pattern[1:-1])
        except re.error as exc:
            raise BadRequest(f"invalid regular expression [{pattern}]: {exc}") from exc
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)
