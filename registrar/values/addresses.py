"""IP addresses: one host each, in the compressed normal form, and which may be glue.

A glue record is published in the parent zone for the whole internet, so it must name an
address the internet can reach. Refused as glue, as registries do: unspecified,
loopback, multicast, link-local, reserved and "this network" addresses, and the
private-use ranges (RFC 1918, the shared CGNAT range, IPv6 unique-local, benchmarking),
which resolve nowhere outside one network. The documentation ranges (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) stay allowed: they are the upstream
documents' and the sandbox's examples, and no real network uses them by mistake.
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_PRIVATE_USE = tuple(ipaddress.ip_network(net) for net in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "198.18.0.0/15",
    "fc00::/7"))


def parse_address(raw: str) -> IPAddress:
    """One IPv4 or IPv6 host address. A network ("/24"), a zone id ("%eth0") and an
    IPv4-mapped IPv6 address are refused: each names something other than one host the
    way it was typed."""
    value = (raw or "").strip()
    if "/" in value:
        raise ValidationError(f"{value}: one address, not a network (no “/” prefix length).",
                              code="cidr")
    if "%" in value:
        raise ValidationError(f"{value}: a zone id (“%…”) only means something on one "
                              "machine; give the address alone.", code="zone_id")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError(f"{value[:64]}: not an IPv4 or IPv6 address (IPv4 is four "
                              "numbers 0 to 255 without leading zeros).",
                              code="invalid_address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValidationError(f"{value}: an IPv4-mapped IPv6 address; give the IPv4 address "
                              f"{address.ipv4_mapped} itself.", code="ipv4_mapped")
    return address


def glue_problem(address: IPAddress) -> str | None:
    """Why `address` cannot be a glue record on the internet, or None."""
    if address.is_unspecified:
        return "the unspecified address is not a host."
    if address.is_loopback:
        return "a loopback address only ever reaches the machine itself."
    if address.is_multicast:
        return "a multicast address is not a host."
    if address.is_link_local:
        return "a link-local address is not reachable beyond its own link."
    if address in _THIS_NETWORK:
        return "0.0.0.0/8 means “this network”, not a host."
    if any(address in net for net in _PRIVATE_USE if net.version == address.version):
        return ("a private-use address resolves nowhere outside its own network, so the "
                "registry would publish a glue record nobody can reach.")
    if address.is_reserved:
        return "the address is in a reserved range."
    return None


def clean_glue_address(raw: str) -> tuple[str, int]:
    """`raw` as (compressed normal form, version) when it may be glue, or ValidationError."""
    address = parse_address(raw)
    problem = glue_problem(address)
    if problem:
        raise ValidationError(f"{str(raw).strip()}: {problem}", code="not_glue")
    return address.compressed, address.version
