"""Decide whether a test runs: ``skip``/``requires`` against the target's version, cluster features,
capabilities, and the test-runner features this runner implements."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Exactly what this runner implements (names from the upstream runner's Features list).
RUNNER_FEATURES = frozenset({
    "allowed_warnings",
    "allowed_warnings_regex",
    "arbitrary_key",
    "capabilities",
    "catch_unauthorized",
    "close_to",
    "contains",
    "default_shards",
    "embedded_stash_key",
    "headers",
    "stash_in_key",
    "stash_in_path",
    "transform_and_set",
    "warnings",
    "warnings_regex",
})

Version = tuple[int, int, int]
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)")
_VERSION_FEATURE = re.compile(r"^gte_v(\d+\.\d+\.\d+)$")


class PrerequisiteError(ValueError):
    """A skip/requires section is malformed (unknown field, bad version range)."""


def parse_version(text: str) -> Version:
    """``9.1.0`` or ``9.1.0-SNAPSHOT`` -> (9, 1, 0)."""
    found = _VERSION.match(text)
    if not found:
        raise PrerequisiteError(f"not a version: {text!r}")
    major, minor, patch = (int(g) for g in found.groups())
    return major, minor, patch


def version_in_ranges(version: Version, ranges: str) -> bool:
    """Whether a version falls in ``"A - B, C - D"`` (inclusive, open ends allowed, ``all``)."""
    for item in str(ranges).split(","):
        item = item.strip()
        if item == "all":
            return True
        if "-" not in item:
            raise PrerequisiteError(f"version range must look like 'A - B', got {item!r}")
        low, high = (side.strip() for side in item.split("-", 1))
        above_low = not low or parse_version(low) <= version
        if above_low and (not high or version <= parse_version(high)):
            return True
    return False


@dataclass(frozen=True)
class CapabilityCheck:
    """One ``{method, path, parameters, capabilities}`` entry of a skip/requires section."""

    method: str
    path: str
    parameters: tuple[str, ...]
    capabilities: tuple[str, ...]

    def describe(self) -> str:
        """``PUT /{index} [lookup_index_mode]`` for skip reasons."""
        return f"{self.method} {self.path} [{', '.join(self.capabilities)}]"


@dataclass
class Target:
    """What the target cluster reports about itself, and how to ask it about capabilities.

    ``capability`` answers True/False, or a string explaining why it could not tell; ``problem``
    says why the version is unknown.
    """

    version: Version | None
    features: frozenset[str] = frozenset()
    has_xpack: bool = False
    capability: Callable[[CapabilityCheck], bool | str] = field(
        default=lambda check: "capabilities cannot be checked")
    problem: str | None = None

    def has_feature(self, name: str) -> bool:
        """Cluster feature check: ``gte_vX.Y.Z`` from the version, named ones from the list."""
        found = _VERSION_FEATURE.match(name)
        if found:
            return self.version is not None and self.version >= parse_version(found.group(1))
        return name in self.features


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _capability_checks(value: Any) -> list[CapabilityCheck]:
    checks = []
    for entry in value if isinstance(value, list) else [value]:
        if not isinstance(entry, dict) or "path" not in entry:
            raise PrerequisiteError(f"capabilities entries need method and path, got {entry!r}")
        checks.append(CapabilityCheck(
            str(entry.get("method", "GET")), str(entry["path"]),
            tuple(_strings(entry.get("parameters"))), tuple(_strings(entry.get("capabilities")))))
    return checks


_SKIP_FIELDS = {"reason", "version", "features", "test_runner_features", "cluster_features", "os",
                "awaits_fix", "known_issues", "capabilities"}
_REQUIRES_FIELDS = {"reason", "cluster_features", "test_runner_features", "capabilities"}


def _runner_features_reason(names: list[str], target: Target) -> str | None:
    for name in names:
        if name == "xpack" and not target.has_xpack:
            return "requires x-pack, which the target does not report"
        if name == "no_xpack" and target.has_xpack:
            return "requires a target without x-pack"
        if name not in ("xpack", "no_xpack") and name not in RUNNER_FEATURES:
            return f"runner does not support test runner feature [{name}]"
    return None


def _skip_reason(spec: dict[str, Any], target: Target) -> str | None:
    reason = spec.get("reason") or "no reason given"
    lacking = _runner_features_reason(
        _strings(spec.get("features")) + _strings(spec.get("test_runner_features")), target)
    if lacking:
        return lacking
    if spec.get("awaits_fix"):
        return f"awaits fix: {spec['awaits_fix']} ({reason})"
    if "version" in spec:
        if target.version is None:
            return f"target version unknown, cannot evaluate version range ({reason})"
        if version_in_ranges(target.version, spec["version"]):
            return f"version {'.'.join(map(str, target.version))} in [{spec['version']}]: {reason}"
    if "os" in spec:
        return f"runner does not support test runner feature [skip_os] ({reason})"
    present = [f for f in _strings(spec.get("cluster_features")) if target.has_feature(f)]
    if present:
        return f"target has cluster features {present}: {reason}"
    for issue in spec.get("known_issues") or []:
        if target.has_feature(str(issue.get("cluster_feature"))) and not target.has_feature(
                str(issue.get("fixed_by"))):
            return f"known issue {issue}: {reason}"
    for check in _capability_checks(spec["capabilities"]) if "capabilities" in spec else []:
        if target.capability(check) is True:
            return f"target has capability {check.describe()}: {reason}"
    return None


def _requires_reason(spec: dict[str, Any], target: Target) -> str | None:
    reason = spec.get("reason") or "no reason given"
    lacking = _runner_features_reason(_strings(spec.get("test_runner_features")), target)
    if lacking:
        return lacking
    missing = [f for f in _strings(spec.get("cluster_features")) if not target.has_feature(f)]
    if missing:
        return f"target lacks cluster features {missing}: {reason}"
    for check in _capability_checks(spec["capabilities"]) if "capabilities" in spec else []:
        answer = target.capability(check)
        if answer is not True:
            why = "not supported" if answer is False else answer
            return f"capability {check.describe()} {why}: {reason}"
    return None


def skip_reason(prerequisites: list[dict[str, Any]], target: Target) -> str | None:
    """Why the section must not run, or None; raises PrerequisiteError on a malformed section."""
    for step in prerequisites:
        kind, spec = next(iter(step.items()))
        allowed = _SKIP_FIELDS if kind == "skip" else _REQUIRES_FIELDS
        if not isinstance(spec, dict):
            raise PrerequisiteError(f"[{kind}] must be a map, got {spec!r}")
        unknown = set(spec) - allowed
        if unknown:
            raise PrerequisiteError(f"unknown field(s) {sorted(unknown)} in [{kind}]")
        reason = _skip_reason(spec, target) if kind == "skip" else _requires_reason(spec, target)
        if reason:
            return reason
    return None
