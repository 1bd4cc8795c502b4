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


def ip_sort_key(text: str) -> tuple[int, int | str]:
    """The order of addresses: by their 16 bytes, IPv4 mapped into IPv6 (as Lucene orders
    `ip` doc values); text that is no address sorts after every address."""
    try:
        address = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return 1, str(text)
    if address.version == 4:
        return 0, int(ipaddress.IPv6Address(f"::ffff:{address}"))
    return 0, int(address)


class IpSortValue(str):
    """An address as a sort value: compared in address order, rendered as its text."""

    def __lt__(self, other: object) -> bool:
        return ip_sort_key(self) < ip_sort_key(str(other))

    def __le__(self, other: object) -> bool:
        return ip_sort_key(self) <= ip_sort_key(str(other))

    def __gt__(self, other: object) -> bool:
        return ip_sort_key(self) > ip_sort_key(str(other))

    def __ge__(self, other: object) -> bool:
        return ip_sort_key(self) >= ip_sort_key(str(other))
