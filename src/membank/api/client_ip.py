"""The address a request came from, resolved once per request behind the configured proxies.

The socket peer is the client unless it is a trusted proxy (MEMBANK_TRUSTED_PROXIES). Then the client is
the right-most X-Forwarded-For address that is not itself a trusted proxy: each proxy appends the address it
saw, so everything left of the last untrusted hop was written by the client and proves nothing. Every caller
asks `client_ip(request)`, never `request.client` or the header directly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Where ClientIpMiddleware leaves the resolved address and scheme in the request state.
CLIENT_IP_KEY = "client_ip"
HTTPS_KEY = "client_https"


@dataclass(frozen=True, slots=True)
class Resolved:
    ip: str | None
    https: bool


class TrustedProxies:
    """The proxies whose X-Forwarded-For and X-Forwarded-Proto are believed."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._networks: tuple[IpNetwork, ...] = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)

    def trusts(self, ip: str | None) -> bool:
        address = _address(ip)
        return address is not None and any(address in network for network in self._networks)

    def resolve(self, peer: str | None, headers: dict[str, str], scheme: str) -> Resolved:
        """The client address and whether the client spoke https, from the peer and its headers."""
        if not self.trusts(peer):
            return Resolved(peer, scheme == "https")
        forwarded = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        client = peer
        for hop in reversed(forwarded):
            if _address(hop) is None:
                break  # garbage where an address should be: stop at the last hop we could believe
            client = hop
            if not self.trusts(hop):
                break
        proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        return Resolved(client, (proto or scheme) == "https")


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ip is None:
        return None
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


class ClientIpMiddleware:
    """Resolves the client address and scheme once, before anything else reads them."""

    def __init__(self, app: ASGIApp, *, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state: dict[str, Any] = scope.setdefault("state", {})
            state[CLIENT_IP_KEY] = resolve_scope(scope, self.proxies)
        await self.app(scope, receive, send)


def resolve_scope(scope: Scope, proxies: TrustedProxies) -> Resolved:
    client = scope.get("client")
    peer = client[0] if client else None
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    return proxies.resolve(peer, headers, scope.get("scheme", "http"))


def scope_client(scope: Scope) -> Resolved:
    """The resolved client of a request (the bare peer when the middleware did not run)."""
    resolved = scope.get("state", {}).get(CLIENT_IP_KEY)
    if isinstance(resolved, Resolved):
        return resolved
    return resolve_scope(scope, TrustedProxies(()))


def client_ip(request: Request) -> str | None:
    """The client's IP address as this server sees it (None when the transport does not tell)."""
    return scope_client(request.scope).ip
