"""The capabilities `GET /_capabilities` reports: named behaviours of an endpoint that clients
(and Elasticsearch's YAML tests) check before relying on them."""

from __future__ import annotations

# (method, path) -> capability names the engine implements there, spelled as Elasticsearch's
# RestHandler.supportedCapabilities() names them
CAPABILITIES: dict[tuple[str, str], frozenset[str]] = {
    (method, path): frozenset({"range_regexp_interval_queries"})
    for method in ("GET", "POST") for path in ("/_search", "/{index}/_search")
}


def supported(method: str, path: str, capabilities: list[str]) -> bool:
    """Whether every named capability is implemented by the endpoint (none named: False)."""
    known = CAPABILITIES.get((method.upper(), path), frozenset())
    return bool(capabilities) and all(name in known for name in capabilities)
