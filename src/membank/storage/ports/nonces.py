"""Nonces of signed requests, remembered for the replay window."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NonceStore"]


class NonceStore(Protocol):
    """Remembers (key, nonce) pairs until they expire, so a signed request cannot be replayed."""

    def remember(self, key_id: str, nonce: str, *, expires_at: float) -> bool:
        """Record the nonce; False when it was already recorded and has not expired (a replay). Atomic:
        of two concurrent calls with the same pair, exactly one gets True."""
