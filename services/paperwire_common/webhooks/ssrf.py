"""SSRF guard for webhook targets: checked when a subscription is created (a 422 saying why) and again at every
connection (a name that resolved to a public address at creation may resolve to 10.0.0.5 today: DNS rebinding).

Refused: loopback, private (RFC 1918, ULA), link-local (169.254.0.0/16 holds the cloud metadata services),
CGNAT (100.64.0.0/10), multicast, reserved/unspecified/documentation ranges, IPv4-mapped IPv6 (::ffff:10.0.0.1) and
anything else not globally routable, unless inside PAPERWIRE_NOTIFIER_ALLOW_NETWORKS. `https` only unless
PAPERWIRE_NOTIFIER_ALLOW_HTTP=true. The sender connects only to addresses this module let through (its resolver is
`GuardedResolver`), follows no redirects and caps what it reads of a response.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CGNAT = ipaddress.ip_network("100.64.0.0/10")
RESOLVE_TIMEOUT_S = 5.0


class UnsafeTarget(ValueError):
    """A webhook URL or address the notifier must not connect to; the message says why (shown to the user)."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    allow_networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_http: bool, networks: Sequence[str]) -> TargetPolicy:
        return cls(allow_http, tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()))


def blocked_reason(ip: IPAddress, policy: TargetPolicy) -> str | None:
    """Why this address is refused, or None when it may be reached."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped} is an IPv4-mapped IPv6 address"
    if any(ip.version == n.version and ip in n for n in policy.allow_networks):
        return None
    kinds = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (169.254.0.0/16 and fe80::/10 hold cloud metadata services)"),
        (ip.version == 4 and ip in CGNAT, "a carrier-grade NAT address (100.64.0.0/10)"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a globally routable address"),
    )
    for hit, what in kinds:
        if hit:
            return f"{ip} is {what}"
    return None


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    ip: IPAddress | None  # the host when it is an address literal


def parse_target(url: str, policy: TargetPolicy) -> Target:
    """Syntax and scheme checks, and the verdict on an address literal (no DNS)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeTarget(f"not a valid URL: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget(f"scheme {scheme or '(none)'!r} is not allowed: use https")
    if scheme == "http" and not policy.allow_http:
        raise UnsafeTarget("http is not allowed: use https (or set PAPERWIRE_NOTIFIER_ALLOW_HTTP=true)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("the URL has no host")
    ip: IPAddress | None = None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host.replace(".", "").isdigit():  # 2130706433, 127.1: numeric forms that resolvers map to addresses
            raise UnsafeTarget(f"{host} is not a canonical IP address") from None
    if ip is not None and (why := blocked_reason(ip, policy)):
        raise UnsafeTarget(why)
    return Target(url, host, port or (443 if scheme == "https" else 80), ip)


async def resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError, ValueError) as e:  # UnicodeError: a label IDNA cannot encode
        raise UnsafeTarget(f"{host} does not resolve: {e or type(e).__name__}") from None
    out: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    return out


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def check_url(url: str, policy: TargetPolicy, resolver: Resolver = resolve) -> Target:
    """Refuse (UnsafeTarget) unless the URL is allowed and every address its host resolves to may be reached.

    Every address, not just one: the sender could be handed any of them."""
    t = parse_target(url, policy)
    if t.ip is None:
        addresses = await resolver(t.host, t.port)
        if not addresses:
            raise UnsafeTarget(f"{t.host} resolves to no address")
        for ip in addresses:
            if why := blocked_reason(ip, policy):
                raise UnsafeTarget(f"{t.host} resolves to {why.removeprefix(f'{ip} is ')} ({ip})")
    return t


class GuardedResolver:
    """An aiohttp resolver that drops refused addresses, so a connection can only go where the guard agrees at
    connect time. (aiohttp does not resolve address literals: the sender checks those with parse_target.)"""

    def __init__(self, policy: TargetPolicy) -> None:
        from aiohttp.resolver import ThreadedResolver

        self.policy = policy
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        results = await self._inner.resolve(host, port, socket.AddressFamily(family))
        allowed = [r for r in results if blocked_reason(ipaddress.ip_address(r["host"]), self.policy) is None]
        if not allowed:
            why = blocked_reason(ipaddress.ip_address(results[0]["host"]), self.policy) if results else "no address"
            raise UnsafeTarget(f"{host} resolves to a refused address at connect time: {why}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
