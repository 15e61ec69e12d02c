"""HMAC request signing (docs/api-keys.md, "Signed requests"): the canonical request both sides compute.

The canonical request is, newline-joined: the upper-case method, the path, the query with its pairs sorted
(percent-encoded again, so both sides agree whatever encoding the client used), the timestamp (unix
seconds), the nonce, and the SHA-256 hex of the body. The HMAC-SHA256 key is the SHA-256 hex of the API
key's secret: exactly what the server stores, and what the client computes from the key it holds. This
module is pure (the SDK signs with it too)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, quote, urlencode

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-MemBank-Timestamp"
NONCE_HEADER = "X-MemBank-Nonce"
SIGNATURE_HEADER = "X-MemBank-Signature"
NONCE_LENGTH = (16, 64)


def canonical_query(query: str) -> str:
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return urlencode(pairs, quote_via=quote)


def canonical_request(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join(
        (method.upper(), path, canonical_query(query), timestamp, nonce, hashlib.sha256(body).hexdigest())
    )


def signing_key(secret: str) -> str:
    """The HMAC key of an API key's secret (the part after `mbk_<prefix>_`): its SHA-256 hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def signature(secret_hash: str, canonical: str) -> str:
    """`v1=<hex>` of a canonical request under a key's stored secret hash."""
    digest = hmac.new(secret_hash.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"
