"""Passwords of human accounts: argon2id hashes and the policy a new password must meet."""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from membank.errors import ValidationFailed

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 12
    max_bytes: int = 1024
    passphrase_length: int = 16
    min_classes: int = 3
    history: int = 5
    expiry_days: int = 0


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, lower case."""
    text = resources.files("membank.auth").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _classes(password: str) -> int:
    found = sum(any(c in chars for c in password) for chars in _CLASSES)
    return found + any(not (c.isascii() and c.isalnum()) for c in password)


class Passwords:
    """Hashing, verifying and the policy. Blocking (argon2 is deliberately slow): call from a worker thread."""

    def __init__(
        self, policy: PasswordPolicy, *, memory_kib: int = 19_456, time_cost: int = 2, parallelism: int = 1
    ) -> None:
        self.policy = policy
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verified in place of an account's hash when there is no account, so both take the same time.
        self._dummy = self._hasher.hash("membank dummy password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether the password matches; with no hash, the same work against a dummy hash, then False."""
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other cost parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def check(self, password: str, *, email: str, previous_hashes: Iterable[str] = ()) -> None:
        """Raise ValidationFailed naming `password` and the rule it breaks (never the password itself)."""
        policy = self.policy
        if len(password.encode()) > policy.max_bytes:
            raise ValidationFailed.field("password", f"must be at most {policy.max_bytes} bytes (UTF-8)")
        if len(password) < policy.min_length:
            raise ValidationFailed.field("password", f"must be at least {policy.min_length} characters")
        if len(password) < policy.passphrase_length and _classes(password) < policy.min_classes:
            raise ValidationFailed.field(
                "password",
                f"needs {policy.min_classes} of lower case, upper case, digits and symbols, "
                f"or at least {policy.passphrase_length} characters",
            )
        if password.strip().lower() in common_passwords():
            raise ValidationFailed.field("password", "is a commonly used password")
        local = email.split("@", 1)[0].lower()
        if len(local) >= 3 and local in password.lower():
            raise ValidationFailed.field("password", "must not contain the email's name")
        if any(self.verify(old, password) for old in previous_hashes):
            raise ValidationFailed.field(
                "password", f"must differ from the last {policy.history} passwords of this account"
            )
