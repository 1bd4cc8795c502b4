"""Learn what a target reports about itself: version, cluster features, x-pack, capabilities."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import yaml
from elasticsearch import Elasticsearch

from .api_call import Request, Response, TransportFailure, send
from .prerequisites import CapabilityCheck, PrerequisiteError, Target, parse_version

DECLARED_FEATURES_FILE = Path(__file__).with_name("cluster_features.yml")
_TIMEOUT = 30.0


class TargetError(RuntimeError):
    """The target could not be reached or did not answer GET / like Elasticsearch."""


def _get(client: Elasticsearch, path: str, params: dict[str, str] | None = None) -> Response:
    return send(client, Request("discovery", "GET", path, params or {}), _TIMEOUT)


def declared_features(path: Path = DECLARED_FEATURES_FILE) -> frozenset[str]:
    """Named cluster features declared in cluster_features.yml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    features = data.get("features") or []
    if not isinstance(features, list):
        raise ValueError(f"{path}: [features] must be a list of names")
    return frozenset(str(f) for f in features)


def _reported_features(client: Elasticsearch) -> frozenset[str] | None:
    response = _get(client, "/_cluster/state", {"filter_path": "nodes_features"})
    nodes = response.body.get("nodes_features") if isinstance(response.body, dict) else None
    if response.is_error or not isinstance(nodes, list) or not nodes:
        return None
    per_node = [frozenset(n.get("features") or []) for n in nodes if isinstance(n, dict)]
    return frozenset.intersection(*per_node) if per_node else None


def _capability_asker(client: Elasticsearch) -> Callable[[CapabilityCheck], bool | str]:
    answers: dict[CapabilityCheck, bool | str] = {}

    def ask(check: CapabilityCheck) -> bool | str:
        if check not in answers:
            params = {"method": check.method, "path": check.path,
                      "capabilities": ",".join(check.capabilities)}
            if check.parameters:
                params["parameters"] = ",".join(check.parameters)
            try:
                response = _get(client, "/_capabilities", params)
            except TransportFailure as exc:
                answers[check] = f"could not be checked ({exc})"
                return answers[check]
            supported = response.body.get("supported") if isinstance(response.body, dict) else None
            if response.is_error or not isinstance(supported, bool):
                answers[check] = (f"unknown: GET /_capabilities answered {response.status} "
                                  f"{response.text()[:200]}")
            else:
                answers[check] = supported
        return answers[check]

    return ask


def discover_target(client: Elasticsearch, declared: frozenset[str] | None = None) -> Target:
    """Ask the target for its version (GET /), features and x-pack.

    Raises TargetError when the target cannot be reached at all. A target whose GET / reports no
    readable version gets ``version=None`` and ``problem`` set: version-gated tests then skip.
    """
    try:
        info = _get(client, "/")
        reported = _reported_features(client)
        xpack = _get(client, "/_xpack")
    except TransportFailure as exc:
        raise TargetError(f"cannot use the target: {exc}") from exc
    number = info.body.get("version", {}).get("number") if isinstance(info.body, dict) else None
    version, problem = None, None
    with contextlib.suppress(PrerequisiteError):
        version = parse_version(number) if isinstance(number, str) else None
    if version is None:
        problem = f"GET / reported no readable version: {info.status} {info.text()[:300]}"
    features = reported if reported is not None else (
        declared if declared is not None else declared_features())
    return Target(version, features, not xpack.is_error, _capability_asker(client), problem)
