"""`ip` field values: IPv4 and IPv6 addresses (held by tantivy as IP fields, IPv4 mapped into
IPv6 as Lucene's InetAddressPoint holds them) and CIDR blocks in term queries."""

from __future__ import annotations

import ipaddress
from typing import Any


def parse_ip(value: Any) -> str:
    """An address in its canonical text form; ValueError with Elasticsearch's message."""
    text = str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as err:
        raise ValueError(f"'{text}' is not an IP string literal.") from err


def cidr_bounds(value: Any) -> tuple[str, str] | None:
    """(first, last) address of a CIDR block such as `192.168.0.0/16` (None: not a block)."""
    text = str(value).strip()
    if "/" not in text:
        return None
    address, _, prefix = text.partition("/")
    try:
        network = ipaddress.ip_network(f"{parse_ip(address)}/{int(prefix)}", strict=False)
    except ValueError as err:
        raise ValueError(f"Expected [ip/prefix] but was [{text}]") from err
    return str(network[0]), str(network[-1])
