"""Login sessions of human accounts and the refresh tokens that renew their access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from membank.models.account import UserAccount

__all__ = ["LoginSession", "LoginSessionRepository", "RefreshTokenRecord"]


@dataclass(slots=True)
class LoginSession:
    """One login: where it came from, when it was last used, when it ends. Times are epoch seconds;
    `expires_at` is the absolute end, whatever the use."""

    id: str
    tenant_id: str
    account_id: str
    device: str
    ip: str
    user_agent: str
    created_at: float
    last_seen_at: float
    expires_at: float
    mfa_at: float | None = None
    revoked_at: float | None = None
    revoked_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    """A refresh token by its SHA-256 (the token itself is never stored). `parent_id` is the token it
    replaced: the tokens of one session form its family."""

    id: str
    session_id: str
    token_hash: str
    issued_at: float
    expires_at: float
    parent_id: str | None = None
    used_at: float | None = None


class LoginSessionRepository(Protocol):
    """Sessions and refresh tokens, scoped by tenant (and account where a caller acts for itself)."""

    def start(self, session: LoginSession, token: RefreshTokenRecord, *, limit: int) -> list[str]:
        """Store a new session with its first refresh token; revoke the account's oldest live sessions past
        `limit` (reason `session_limit`) in the same transaction; the ids revoked."""

    def with_account(self, session_id: str) -> tuple[LoginSession, UserAccount] | None:
        """A session and its account's current row (one indexed read: the hot path of every JWT request)."""

    def refresh_token(self, token_hash: str) -> tuple[RefreshTokenRecord, LoginSession] | None:
        """The refresh token with this hash and its session."""

    def rotate(self, used: RefreshTokenRecord, successor: RefreshTokenRecord, at: float) -> bool:
        """Mark `used` as used and store `successor`, atomically; False (nothing stored) when `used` was used
        meanwhile (a concurrent presentation of the same token: reuse)."""

    def touch(self, session_id: str, at: float) -> None:
        """Record use of a session (`last_seen_at`)."""

    def confirm_mfa(self, session_id: str, at: float) -> None:
        """Record a fresh second-factor check of a session (`mfa_at`: step-up)."""

    def live_sessions(self, tenant_id: str, account_id: str, now: float) -> list[LoginSession]:
        """An account's sessions neither revoked nor past their absolute end, newest first."""

    def revoke(
        self, tenant_id: str, session_id: str, *, reason: str, at: float, account_id: str | None = None
    ) -> bool:
        """Revoke one live session of the tenant (and of `account_id` when given); False when none."""

    def revoke_all(self, tenant_id: str, account_id: str, *, reason: str, at: float) -> list[str]:
        """Revoke every live session of an account; the ids revoked."""
