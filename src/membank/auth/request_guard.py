"""Per-key request checks after the key is known: the IP allow list and HMAC request signatures."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from dataclasses import dataclass

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.request_signing import NONCE_LENGTH, canonical_request, signature
from membank.auth.service import KeyCheck
from membank.errors import (
    InvalidSignature,
    IpNotAllowed,
    MemBankError,
    ReplayedRequest,
    SignatureExpired,
    SignatureRequired,
)
from membank.models import ApiKey
from membank.storage.ports import NonceStore


@dataclass(frozen=True, slots=True)
class SignedParts:
    """The signature headers of a request (None: absent)."""

    timestamp: str | None
    nonce: str | None
    signature: str | None

    @property
    def present(self) -> bool:
        return any(part is not None for part in (self.timestamp, self.nonce, self.signature))


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the checks need of a request; `body` only when a signature is to be verified."""

    ip: str | None
    method: str
    path: str
    query: str
    signed: SignedParts
    body: bytes = b""
    user_agent: str | None = None
    request_id: str | None = None


def needs_signature_check(key: ApiKey, signed: SignedParts) -> bool:
    """A signature is verified whenever one is sent, and required by keys that say so."""
    return key.require_signature or signed.present


def ip_allowed(allowed: list[str] | None, ip: str | None) -> bool:
    if allowed is None:
        return True
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)


class RequestGuard:
    """Refuses requests a key's own rules exclude, recording each refusal as a security event."""

    def __init__(self, nonces: NonceStore, events: SecurityEvents, *, window_seconds: int) -> None:
        self._nonces = nonces
        self._events = events
        self._window = window_seconds

    async def verify(self, check: KeyCheck, facts: RequestFacts) -> None:
        """Raise IpNotAllowed or a signature error (401) when the request breaks the key's rules."""
        key = check.key
        if key is None:
            return
        try:
            if not ip_allowed(key.allowed_ips, facts.ip):
                raise IpNotAllowed("this API key may not be used from this address")
            if needs_signature_check(key, facts.signed):
                await asyncio.to_thread(
                    self._check_signature, key, check.secret_hash or key.secret_hash, facts
                )
        except MemBankError as refusal:
            await self._events.arecord(
                "key.denied",
                outcome="denied",
                actor=check.principal.subject,
                tenant_id=key.tenant_id,
                target=key.id,
                origin=RequestOrigin(facts.ip, facts.user_agent, facts.request_id),
                details={"reason": refusal.code},
            )
            raise

    def _check_signature(self, key: ApiKey, secret_hash: str, facts: RequestFacts) -> None:
        signed = facts.signed
        if signed.timestamp is None or signed.nonce is None or signed.signature is None:
            if not signed.present:
                raise SignatureRequired("this API key requires signed requests (X-MemBank-Signature)")
            raise InvalidSignature(
                "a signed request needs X-MemBank-Timestamp, X-MemBank-Nonce and X-MemBank-Signature"
            )
        if not signed.timestamp.isdigit() or len(signed.timestamp) > 12:
            raise InvalidSignature("X-MemBank-Timestamp must be unix seconds")
        low, high = NONCE_LENGTH
        if (
            not low <= len(signed.nonce) <= high
            or not signed.nonce.isascii()
            or not signed.nonce.isprintable()
        ):
            raise InvalidSignature(f"X-MemBank-Nonce must be {low} to {high} printable ASCII characters")
        now = time.time()
        if abs(now - int(signed.timestamp)) > self._window:
            raise SignatureExpired(
                f"the signed timestamp is more than {self._window} s from the server's time"
            )
        canonical = canonical_request(
            facts.method, facts.path, facts.query, signed.timestamp, signed.nonce, facts.body
        )
        if not hmac.compare_digest(signature(secret_hash, canonical), signed.signature):
            raise InvalidSignature("the request signature does not match the request")
        # Only a request whose signature is good uses up its nonce: a forged one cannot block a real one.
        if not self._nonces.remember(key.id, signed.nonce, expires_at=now + self._window):
            raise ReplayedRequest("this signed request was already received (nonce reused)")
