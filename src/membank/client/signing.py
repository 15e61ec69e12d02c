"""Signing requests for keys that require it (or whenever you want tamper-evident requests).

The SDK stands alone, so this repeats the server's canonical request (membank.auth.request_signing); the API tests
sign with this module and the server verifies, so the two cannot drift apart unnoticed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

__all__ = ["sign_request"]


def sign_request(
    api_key: str,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign one request with `api_key` (`mbk_<prefix>_<secret>`).

    `url` may be a full URL or a path with its query; `body` must be exactly the bytes sent. Send the
    returned `X-MemBank-Timestamp`, `X-MemBank-Nonce` and `X-MemBank-Signature` headers with the request.
    A request can be sent once: the server refuses a nonce it has seen within its replay window."""
    parts = urlsplit(url)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce if nonce is not None else secrets.token_hex(16)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)), quote_via=quote)
    canonical = "\n".join(
        (method.upper(), parts.path or "/", query, stamp, nonce, hashlib.sha256(body).hexdigest())
    )
    secret = api_key.split("_", 2)[2] if api_key.startswith("mbk_") and api_key.count("_") == 2 else api_key
    signing_key = hashlib.sha256(secret.encode()).hexdigest()
    digest = hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {"X-MemBank-Timestamp": stamp, "X-MemBank-Nonce": nonce, "X-MemBank-Signature": f"v1={digest}"}
