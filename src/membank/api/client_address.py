"""The address a request came from, in one place.

`client_ip` is the peer address of the connection. The request-security slice replaces this function's
body with its trusted-proxy resolution (X-Forwarded-For only from configured proxies); every caller asks
here, never `request.client` directly."""

from __future__ import annotations

from starlette.requests import Request


def client_ip(request: Request) -> str | None:
    """The client's IP address as this server sees it (None when the transport does not tell)."""
    return request.client.host if request.client is not None else None
