"""Login sessions on the database with the JWT request path's read cached in Redis (storage/redis/session_cache.py).

Every write goes to the database first, then ends the Redis entries it changed: a session's own changes
(revoked, touched, step-up), and an account's changes (status, roles, bindings, a password that must be
changed) for each of its live sessions. A read that misses, or finds Redis down, reads the database. If Redis cannot be reached to end an
entry, other instances may still serve it until it expires (MEMBANK_SESSION_CACHE_SECONDS): that is the
bound on how stale a session check can be while Redis is partly unreachable.
"""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Callable, Collection, Mapping

import structlog

from membank.errors import BackendUnavailable
from membank.models.account import UserAccount
from membank.storage.ports.accounts import AccountRepository
from membank.storage.ports.login_sessions import LoginSession, LoginSessionRepository, RefreshTokenRecord
from membank.storage.redis.session_cache import RedisSessionCache

log = structlog.get_logger(__name__)

# The account fields a session check reads (auth/sessions.py): a change of any other keeps the entries.
_CHECKED_FIELDS = frozenset({"status", "roles", "user_ids", "team_ids", "must_change_password"})


class CachedLoginSessions:
    def __init__(
        self,
        sessions: LoginSessionRepository,
        cache: RedisSessionCache,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._cache = cache
        self._clock = clock

    def with_account(self, session_id: str) -> tuple[LoginSession, UserAccount] | None:
        try:
            cached = self._cache.get(session_id)
        except BackendUnavailable:
            return self._sessions.with_account(session_id)
        if cached.found is not None:
            return cached.found
        found = self._sessions.with_account(session_id)
        if found is not None:
            with contextlib.suppress(BackendUnavailable):  # the next read fills it
                self._cache.fill(*found, cached.generation)
        return found

    def start(self, session: LoginSession, token: RefreshTokenRecord, *, limit: int) -> list[str]:
        evicted = self._sessions.start(session, token, limit=limit)
        self._forget(evicted)
        return evicted

    def refresh_token(self, token_hash: str) -> tuple[RefreshTokenRecord, LoginSession] | None:
        return self._sessions.refresh_token(token_hash)

    def rotate(self, used: RefreshTokenRecord, successor: RefreshTokenRecord, at: float) -> bool:
        rotated = self._sessions.rotate(used, successor, at)
        if rotated:
            self._forget([used.session_id])
        return rotated

    def touch(self, session_id: str, at: float) -> None:
        self._sessions.touch(session_id, at)
        self._forget([session_id])

    def confirm_mfa(self, session_id: str, at: float) -> None:
        self._sessions.confirm_mfa(session_id, at)
        self._forget([session_id])

    def live_sessions(self, tenant_id: str, account_id: str, now: float) -> list[LoginSession]:
        return self._sessions.live_sessions(tenant_id, account_id, now)

    def revoke(
        self, tenant_id: str, session_id: str, *, reason: str, at: float, account_id: str | None = None
    ) -> bool:
        revoked = self._sessions.revoke(tenant_id, session_id, reason=reason, at=at, account_id=account_id)
        if revoked:
            self._forget([session_id])
        return revoked

    def revoke_all(self, tenant_id: str, account_id: str, *, reason: str, at: float) -> list[str]:
        revoked = self._sessions.revoke_all(tenant_id, account_id, reason=reason, at=at)
        self._forget(revoked)
        return revoked

    def forget_account(self, tenant_id: str, account_id: str) -> None:
        """End the entries of the account's live sessions (its row changed)."""
        live = self._sessions.live_sessions(tenant_id, account_id, self._clock())
        self._forget([session.id for session in live])

    def _forget(self, session_ids: Collection[str]) -> None:
        try:
            self._cache.forget(session_ids)
        except BackendUnavailable:
            log.warning("session_cache_not_ended", sessions=len(session_ids), reason="redis unavailable")


class SessionCachedAccounts:
    """Accounts on the database; a change of a field the session check reads ends its sessions' entries."""

    def __init__(self, accounts: AccountRepository, sessions: CachedLoginSessions) -> None:
        self._accounts = accounts
        self._sessions = sessions

    def create(self, account: UserAccount) -> bool:
        return self._accounts.create(account)

    def get(self, tenant_id: str, account_id: str) -> UserAccount | None:
        return self._accounts.get(tenant_id, account_id)

    def by_email(self, tenant_id: str, email: str) -> UserAccount | None:
        return self._accounts.by_email(tenant_id, email)

    def list(self, tenant_id: str, *, limit: int, after: str | None = None) -> builtins.list[UserAccount]:
        return self._accounts.list(tenant_id, limit=limit, after=after)

    def update(
        self, tenant_id: str, account_id: str, changes: Mapping[str, object], *, at: float
    ) -> UserAccount | None:
        changed = self._accounts.update(tenant_id, account_id, changes, at=at)
        if changed is not None and _CHECKED_FIELDS & changes.keys():
            self._sessions.forget_account(tenant_id, account_id)
        return changed

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
        self._accounts.set_password(
            tenant_id, account_id, password_hash, at=at, must_change=must_change, keep_history=keep_history
        )
        self._sessions.forget_account(tenant_id, account_id)  # must_change_password may have changed

    def replace_hash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        self._accounts.replace_hash(account_id, old_hash, new_hash)

    def password_history(self, account_id: str, limit: int) -> builtins.list[str]:
        return self._accounts.password_history(account_id, limit)

    def replace_recovery_codes(self, account_id: str, code_hashes: Collection[str], *, at: float) -> None:
        self._accounts.replace_recovery_codes(account_id, code_hashes, at=at)

    def use_recovery_code(self, account_id: str, code_hash: str, *, at: float) -> bool:
        return self._accounts.use_recovery_code(account_id, code_hash, at=at)
