"""Human accounts of a tenant: the account rows, their password history and MFA recovery codes."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Protocol

from membank.models.account import UserAccount

__all__ = ["ACCOUNT_FIELDS", "AccountRepository"]

# The fields `update` may change (the password has its own method, which also keeps its history).
ACCOUNT_FIELDS = frozenset(
    {
        "display_name",
        "roles",
        "user_ids",
        "team_ids",
        "status",
        "must_change_password",
        "mfa_secret",
        "mfa_enabled_at",
    }
)


class AccountRepository(Protocol):
    """Accounts are unique per (tenant, email); emails are stored as given (the service normalises them)."""

    def create(self, account: UserAccount) -> bool:
        """Store a new account (and its password, if set, in the history); False if the email is taken."""

    def get(self, tenant_id: str, account_id: str) -> UserAccount | None:
        """The tenant's account with that id, or None (another tenant's account is None too)."""

    def by_email(self, tenant_id: str, email: str) -> UserAccount | None:
        """The tenant's account with that email, or None."""

    def list(self, tenant_id: str, *, limit: int, after: str | None = None) -> list[UserAccount]:
        """Up to `limit` accounts of the tenant ordered by email, those after the email `after`."""

    def update(
        self, tenant_id: str, account_id: str, changes: Mapping[str, object], *, at: float
    ) -> UserAccount | None:
        """Apply `changes` (keys from ACCOUNT_FIELDS); the account as it is now, or None if unknown."""

    def set_password(
        self,
        tenant_id: str,
        account_id: str,
        password_hash: str,
        *,
        at: float,
        must_change: bool,
        keep_history: int,
    ) -> None:
        """A new password: the account's hash and must_change_password, a history row (the newest
        `keep_history` rows are kept)."""

    def replace_hash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        """The same password hashed anew (new cost parameters), if the hash is still `old_hash`."""

    def password_history(self, account_id: str, limit: int) -> builtins.list[str]:
        """The hashes of the account's last `limit` passwords, newest first."""

    def replace_recovery_codes(self, account_id: str, code_hashes: Collection[str], *, at: float) -> None:
        """The account's MFA recovery codes (hashes) from now on; the previous ones are gone."""

    def use_recovery_code(self, account_id: str, code_hash: str, *, at: float) -> bool:
        """Mark an unused recovery code used; False if the account has no such unused code. Atomic."""
