"""Network processors: `community_id` (a flow's Community ID, with the `communityid` package),
`network_direction` (inbound, outbound, internal or external from internal networks) and
`uri_parts` (a URI split into ECS `url.*` fields)."""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Any

import communityid

from es_rag.engine.errors import BadRequest
from es_rag.engine.ingest.config import ProcessorConfig
from es_rag.engine.ingest.document import IngestDocument, java_type
from es_rag.engine.ingest.processors.base import Processor
from es_rag.engine.mustache import to_java_string

# IANA numbers of the transport names Elasticsearch's `CommunityIdProcessor` knows.
_TRANSPORTS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "ipv6-icmp": 58,
               "icmpv6": 58, "eigrp": 88, "ospf": 89, "pim": 103, "sctp": 132}
_PORTED = (6, 17, 132)
_ICMP = (1, 58)


def _integer(value: Any, what: str) -> int:
    """Elasticsearch's `parseIntFromObjectOrString`: null is 0, numbers and digit strings."""
    if value is None:
        return 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise BadRequest(f"unable to parse {what} [{to_java_string(value)}]")


def _transport(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = to_java_string(value).strip().lower()
    if text in _TRANSPORTS:
        return _TRANSPORTS[text]
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"could not convert string [{to_java_string(value)}] to transport "
                         "protocol") from None


class CommunityId(Processor):
    """The Community ID of a flow (source/destination address and port, transport, ICMP type
    and code), `1:` + base64 SHA-1, seeded; missing parts skip the document by default."""

    type = "community_id"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.fields = {name: config.read_string(name, default) for name, default in (
            ("source_ip", "source.ip"), ("source_port", "source.port"),
            ("destination_ip", "destination.ip"), ("destination_port", "destination.port"),
            ("iana_number", "network.iana_number"), ("transport", "network.transport"),
            ("icmp_type", "icmp.type"), ("icmp_code", "icmp.code"))}
        self.target_field = config.read_string("target_field", "network.community_id")
        seed = config.read("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 65535:
            raise config.error("seed", "must be a value between 0 and 65535")
        self.hasher = communityid.CommunityID(seed=seed)
        self.ignore_missing = config.read_bool("ignore_missing", True)

    def _get(self, doc: IngestDocument, name: str, ignore_missing: bool) -> Any:
        return doc.get(self.fields[name], ignore_missing)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        missing = self.ignore_missing
        source = doc.get_string(self.fields["source_ip"], missing)
        destination = doc.get_string(self.fields["destination_ip"], missing)
        protocol = None
        if source is not None and destination is not None:
            protocol = self._get(doc, "iana_number", True)
            if protocol is None:
                protocol = self._get(doc, "transport", missing)
        if protocol is None:
            if missing:
                return doc
            raise BadRequest("unable to construct flow from document")
        for address in (source, destination):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise BadRequest(f"'{address}' is not an IP string literal.") from None
        number = _transport(protocol)
        source_port = destination_port = None
        if number in _PORTED:
            source_port = _integer(self._get(doc, "source_port", missing), "source port")
            destination_port = _integer(self._get(doc, "destination_port", missing),
                                        "destination port")
            for port, what in ((source_port, "source"), (destination_port, "destination")):
                if not 0 <= port <= 65535:
                    raise BadRequest(f"invalid {what} port [{port}]")
        elif number in _ICMP:
            source_port = _integer(self._get(doc, "icmp_type", True), "icmp type")
            destination_port = _integer(self._get(doc, "icmp_code", True), "icmp code")
        flow = communityid.FlowTuple(number, source, destination, source_port, destination_port)
        doc.set(self.target_field, self.hasher.calc(flow))
        return doc


_BROADCAST = ipaddress.ip_address("255.255.255.255")
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                              "fd00::/8")]
_LINK_LOCAL_MULTICAST = [ipaddress.ip_network(n) for n in ("224.0.0.0/24", "ff02::/16")]
_INTERFACE_LOCAL_MULTICAST = ipaddress.ip_network("ff01::/16")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _in_network(address: Address, network: str) -> bool:
    """Elasticsearch's named networks (`private`, `public`, `loopback`, …) or a CIDR range."""
    named = {
        "loopback": address.is_loopback, "unspecified": address.is_unspecified,
        "multicast": address.is_multicast, "link_local_unicast": address.is_link_local,
        "link_local_multicast": any(address in n for n in _LINK_LOCAL_MULTICAST),
        "interface_local_multicast": address in _INTERFACE_LOCAL_MULTICAST,
        "private": any(address in n for n in _PRIVATE),
    }
    if network in named:
        return named[network]
    if network in ("unicast", "global_unicast"):
        return not (address == _BROADCAST or address.is_unspecified or address.is_loopback
                    or address.is_multicast or address.is_link_local)
    if network == "public":
        return not (named["private"] or address.is_loopback or address.is_unspecified
                    or address.is_link_local or named["link_local_multicast"]
                    or named["interface_local_multicast"] or address == _BROADCAST)
    try:
        return address in ipaddress.ip_network(network, strict=False)
    except ValueError:
        raise BadRequest(f"'{network}' is not an IP string literal.") from None


class NetworkDirection(Processor):
    """`inbound`, `outbound`, `internal` or `external`, from whether the source and destination
    addresses are in `internal_networks` (or the list in `internal_networks_field`)."""

    type = "network_direction"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.source_ip = config.read_string("source_ip", "source.ip")
        self.destination_ip = config.read_string("destination_ip", "destination.ip")
        self.target_field = config.read_string("target_field", "network.direction")
        self.ignore_missing = config.read_bool("ignore_missing", True)
        networks = config.read_list("internal_networks", None)
        self.networks_field = config.read_string("internal_networks_field", None)
        if networks is None and self.networks_field is None:
            raise config.error("internal_networks", "or [internal_networks_field] must be "
                                                    "specified")
        if networks is not None and self.networks_field is not None:
            raise config.error("internal_networks", "and [internal_networks_field] cannot both "
                                                    "be used in the same processor")
        self.networks = [config.template("internal_networks", str(n)) for n in networks or []]

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        direction = self._direction(doc)
        if direction is None:
            if self.ignore_missing:
                return doc
            raise BadRequest("unable to calculate network direction from document")
        doc.set(self.target_field, direction)
        return doc

    def _direction(self, doc: IngestDocument) -> str | None:
        if self.networks_field is not None:
            networks = doc.get(self.networks_field, self.ignore_missing)
            if networks is None:
                return None
            networks = [str(n) for n in (networks if isinstance(networks, list) else [networks])]
        else:
            networks = [doc.render(n) for n in self.networks]
        source = doc.get_string(self.source_ip, self.ignore_missing)
        destination = doc.get_string(self.destination_ip, self.ignore_missing)
        if source is None or destination is None:
            return None
        inside = []
        for text in (source, destination):
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                raise BadRequest(f"'{text}' is not an IP string literal.") from None
            inside.append(any(_in_network(address, n) for n in networks))
        return {(True, True): "internal", (True, False): "outbound",
                (False, True): "inbound", (False, False): "external"}[(inside[0], inside[1])]


class UriParts(Processor):
    """A URI into `scheme`, `domain`, `port`, `path`, `extension`, `query`, `fragment`,
    `user_info`, `username`, `password` (and `original`) under `target_field`."""

    type = "uri_parts"

    def __init__(self, config: ProcessorConfig) -> None:
        super().__init__(config)
        self.field = config.read_string("field")
        self.target_field = config.read_string("target_field", "url")
        self.keep_original = config.read_bool("keep_original", True)
        self.remove_if_successful = config.read_bool("remove_if_successful", False)
        self.ignore_missing = config.read_bool("ignore_missing", False)

    def execute(self, doc: IngestDocument, run: Any) -> IngestDocument | None:
        value = doc.get(self.field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise BadRequest(f"field [{self.field}] is null, cannot process it.")
        if not isinstance(value, str):
            raise BadRequest(f"field [{self.field}] of type [{java_type(value)}] cannot be cast "
                             "to [java.lang.String]")
        parts = uri_parts(value)
        if self.keep_original:
            parts["original"] = value
        if self.remove_if_successful and self.field != self.target_field:
            doc.remove(self.field)
        doc.set(self.target_field, parts)
        return doc


def uri_parts(value: str) -> dict[str, Any]:
    """The parts of a URI, as Elasticsearch's `UriPartsProcessor.apply` names them."""
    try:
        split = urllib.parse.urlsplit(value)
        port = split.port
    except ValueError:
        raise BadRequest(f"unable to parse URI [{value}]") from None
    if not split.scheme or any(c in value for c in " \"<>\\^`{|}"):
        raise BadRequest(f"unable to parse URI [{value}]")
    out: dict[str, Any] = {"scheme": split.scheme}
    user_info, _, host = split.netloc.rpartition("@")
    host = host.rsplit(":", 1)[0] if port is not None else host
    if host:
        out["domain"] = host
    if port is not None:
        out["port"] = port
    if split.path:
        out["path"] = split.path
        last = split.path.rsplit("/", 1)[-1]
        if "." in last:
            out["extension"] = last.rsplit(".", 1)[1]
    if split.query:
        out["query"] = split.query
    if split.fragment:
        out["fragment"] = split.fragment
    if user_info:
        out["user_info"] = user_info
        if ":" in user_info:
            out["username"], out["password"] = user_info.split(":", 1)
    return out


PROCESSORS: list[type[Processor]] = [CommunityId, NetworkDirection, UriParts]
