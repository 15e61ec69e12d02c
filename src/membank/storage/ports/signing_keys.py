"""The keys that sign access tokens: shared by every instance over one system of record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["SigningKeyRecord", "SigningKeyRepository"]


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """One signing key as stored. `private_key` is sealed (auth/secret_box.py, context = kid), never the key
    itself; `public_jwk` is what JWKS publishes. `retired_at` None: may sign; a time: verifies until then
    (a rotated-out key is retired once the tokens it signed have expired)."""

    kid: str
    algorithm: str
    private_key: str
    public_jwk: dict[str, Any]
    created_at: float
    retired_at: float | None = None


class SigningKeyRepository(Protocol):
    """Signing keys; readers filter by `retired_at` themselves (it is a time, not a flag)."""

    def usable(self, now: float) -> list[SigningKeyRecord]:
        """Keys not yet retired at `now`, newest first (the first with `retired_at` None signs)."""

    def add_first(self, key: SigningKeyRecord, now: float) -> SigningKeyRecord:
        """Store `key` unless a key that may sign exists already; the key that signs afterwards. Instances
        starting together end with one such key (the store serialises them)."""

    def rotate(self, key: SigningKeyRecord, *, retire_at: float) -> list[str]:
        """Store `key` as the signing key and schedule every other signing key's retirement at `retire_at`;
        the kids scheduled."""
