"""Access tokens for the JWT attacks: a signer, the issuer's claim set, and forged variants of a token.

The token issuer (slice tokens) signs EdDSA (Ed25519) tokens with iss "membank", aud "membank-api" and the
claims sub, tid, sid, iat, nbf, exp, jti, header kid. `store_signer` signs with the server's own active key
from `signing_keys` (sealed with the SecretBox, context = kid); until the issuer has made one, a fresh local
key stands in, which the server does not trust, so only the refusals can be checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from membank.bootstrap import build_secret_box
from membank.config import Settings
from membank.storage.sql import tables
from tests.security import snapshot

ISSUER = "membank"
AUDIENCE = "membank-api"


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs claims as the token issuer does; `trusted` says whether the server holds this key."""

    kid: str
    private_key: Ed25519PrivateKey
    trusted: bool

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": kid or self.kid})


def local_signer(*, trusted: bool = False) -> Signer:
    return Signer(
        kid=f"attack-{uuid.uuid4().hex[:8]}", private_key=Ed25519PrivateKey.generate(), trusted=trusted
    )


def _private_key(material: bytes) -> Ed25519PrivateKey:
    if material.startswith(b"-----BEGIN"):
        loaded = serialization.load_pem_private_key(material, password=None)
    else:
        loaded = Ed25519PrivateKey.from_private_bytes(material)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise TypeError(f"the active signing key is {type(loaded).__name__}, not Ed25519")
    return loaded


def store_signer(settings: Settings) -> Signer:
    """The server's active signing key when the issuer has made one, else an untrusted local key."""
    with snapshot.store_reader(settings.sqlite_path) as engine, engine.connect() as conn:
        keys = tables.signing_keys
        row = (
            conn.execute(
                select(keys).where(keys.c.retired_at.is_(None)).order_by(keys.c.created_at.desc()).limit(1)
            )
            .mappings()
            .first()
        )
    if row is None:
        return local_signer()
    opened = build_secret_box(settings).open_(row["private_key"], context=row["kid"])
    return Signer(kid=row["kid"], private_key=_private_key(opened), trusted=True)


def claims(
    tenant_id: str, subject: str, session_id: str, *, now: float | None = None, ttl: int = 300
) -> dict[str, Any]:
    """The issuer's claim set for an access token of `subject` in `session_id`."""
    issued = int(now if now is not None else time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tid": tenant_id,
        "sid": session_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


# -- forged variants: each takes the signer and a valid claim set, and returns a token to refuse -----------


def alg_none(signer: Signer, valid: dict[str, Any]) -> str:
    return _unsigned({"alg": "none", "typ": "JWT", "kid": signer.kid}, valid) + "."


def hs256_with_public_key(signer: Signer, valid: dict[str, Any]) -> str:
    """The classic key confusion: HMAC keyed with the public key a verifier may hand to any algorithm."""
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": signer.kid}, valid)
    mac = hmac.new(signer.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def wrong_kid(signer: Signer, valid: dict[str, Any]) -> str:
    return signer.sign(valid, kid="no-such-kid")


def foreign_key_same_kid(signer: Signer, valid: dict[str, Any]) -> str:
    return local_signer().sign(valid, kid=signer.kid)


def expired(signer: Signer, valid: dict[str, Any]) -> str:
    return signer.sign(
        {**valid, "iat": valid["iat"] - 900, "nbf": valid["nbf"] - 900, "exp": valid["iat"] - 60}
    )


def not_yet_valid(signer: Signer, valid: dict[str, Any]) -> str:
    return signer.sign({**valid, "nbf": valid["iat"] + 600, "exp": valid["iat"] + 900})


def wrong_audience(signer: Signer, valid: dict[str, Any]) -> str:
    return signer.sign({**valid, "aud": "another-api"})


def wrong_issuer(signer: Signer, valid: dict[str, Any]) -> str:
    return signer.sign({**valid, "iss": "https://evil.example"})


def without_expiry(signer: Signer, valid: dict[str, Any]) -> str:
    return signer.sign({k: v for k, v in valid.items() if k != "exp"})


def tampered_tenant(signer: Signer, valid: dict[str, Any]) -> str:
    """A valid signature over one claim set, presented with another tenant written into the payload."""
    header, _, signature = signer.sign(valid).split(".")
    payload = _b64(json.dumps({**valid, "tid": "another-tenant"}).encode())
    return f"{header}.{payload}.{signature}"


FORGERIES = (
    alg_none,
    hs256_with_public_key,
    wrong_kid,
    foreign_key_same_kid,
    expired,
    not_yet_valid,
    wrong_audience,
    wrong_issuer,
    without_expiry,
    tampered_tenant,
)
