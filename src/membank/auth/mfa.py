"""TOTP second factors (RFC 6238, via pyotp) and one-time recovery codes.

A TOTP secret is stored sealed (secret_box.py), bound to its account. A code is accepted for the current
time step and one step either side (clock drift), and each (account, step) only once: the step is recorded
in the nonce store, atomically, so a code seen by an attacker cannot be replayed within its window, not even
on another instance."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import pyotp

from membank.auth.secret_box import SecretBox
from membank.storage.ports import NonceStore

STEP_SECONDS = 30
RECOVERY_CODES = 10
_WINDOW = (0, -1, 1)  # pyotp's valid_window=1, current step first


def hash_recovery_code(code: str) -> str:
    """Recovery codes are 80 random bits: a SHA-256 of the normalised code is enough (no slow hash)."""
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode()).hexdigest()


def new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(5)}-{secrets.token_hex(5)}" for _ in range(RECOVERY_CODES)]


class Totp:
    def __init__(
        self,
        box: SecretBox,
        used_steps: NonceStore,
        *,
        issuer: str = "MemBank",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._box = box
        self._used = used_steps
        self._issuer = issuer
        self._clock = clock

    @staticmethod
    def new_secret() -> str:
        return pyotp.random_base32()

    def provisioning_uri(self, secret: str, email: str) -> str:
        """The otpauth:// URI an authenticator app reads (as a QR code)."""
        return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=self._issuer)

    def seal(self, account_id: str, secret: str) -> str:
        return self._box.seal(secret.encode(), context=f"totp:{account_id}")

    def open(self, account_id: str, sealed: str) -> str:
        return self._box.open_(sealed, context=f"totp:{account_id}").decode()

    def accept(self, account_id: str, secret: str, code: str) -> bool:
        """Whether `code` is valid now and was not used before (using it up)."""
        code = code.strip().replace(" ", "")
        if len(code) != 6 or not code.isdigit():
            return False
        totp = pyotp.TOTP(secret)
        step = int(self._clock() // STEP_SECONDS)
        for offset in _WINDOW:
            at = step + offset
            if hmac.compare_digest(totp.at(at * STEP_SECONDS), code):
                expires = (at + len(_WINDOW)) * STEP_SECONDS
                return self._used.remember(f"totp:{account_id}", str(at), expires_at=expires)
        return False
