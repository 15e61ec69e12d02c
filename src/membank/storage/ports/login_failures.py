"""Failed logins per (tenant, email), whether or not an account has that email, and the lockouts they cause.

The database is the system of record (`LoginFailureRepository`); with Redis configured the counts live there,
shared by every instance (storage/failover_login_failures.py moves between the two)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["LockoutPolicy", "LoginFailureRepository", "LoginFailureStore", "LoginFailures"]


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """Failed logins of one (tenant, email) since the last success or lockout, and its lockouts so far."""

    failures: int
    lockouts: int
    locked_until: float | None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`max_failures` in a row lock for `base_seconds`, doubled per lockout after the first, at most `cap_seconds`."""

    max_failures: int
    base_seconds: float
    cap_seconds: float

    def duration(self, lockouts: int) -> float:
        return float(min(self.base_seconds * 2 ** max(lockouts - 1, 0), self.cap_seconds))


class LoginFailureStore(Protocol):
    """Counts of failed logins; emails are stored as given (the login service normalises them)."""

    def get(self, tenant_id: str, email: str) -> LoginFailures | None:
        """The failure count of (tenant, email), or None if it has none."""

    def record(self, tenant_id: str, email: str, policy: LockoutPolicy, *, at: float) -> LoginFailures:
        """Count a failed login atomically; the failure that reaches the limit locks and resets the count."""

    def clear(self, tenant_id: str, email: str) -> bool:
        """Forget the failures and lockouts of (tenant, email) (a login succeeded, an admin unlocked);
        whether there were any."""


class LoginFailureRepository(LoginFailureStore, Protocol):
    """The system of record of the counts (the database)."""

    def hold_lockout(
        self, tenant_id: str, email: str, lockouts: int, locked_until: float, *, at: float
    ) -> None:
        """Keep a lockout counted elsewhere (on Redis): at least `lockouts` so far, locked at least until
        `locked_until`; a stricter state already stored stays."""
