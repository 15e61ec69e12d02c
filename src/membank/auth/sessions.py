"""Login sessions: start, refresh with rotation and reuse detection, list, revoke; the JWT request path."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.rbac import RoleCatalog
from membank.auth.tokens import AccessTokens
from membank.errors import Forbidden, LoginSessionNotFound, Unauthorized
from membank.models import Principal
from membank.models.account import UserAccount
from membank.storage.ports.login_sessions import LoginSession, LoginSessionRepository, RefreshTokenRecord

_REFRESH_PREFIX = "mbr_"
# last_seen_at is written at most this often per session (and never less often than a quarter of the idle
# timeout, so an active session never looks idle).
_TOUCH_AT_MOST_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    refresh_ttl_seconds: float
    idle_timeout_seconds: float
    absolute_timeout_seconds: float
    limit_per_account: int


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)


@dataclass(frozen=True, slots=True)
class SessionView:
    """One of a caller's sessions as listed (`current`: the one the request came with)."""

    session: LoginSession
    current: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    """Every check reads the store, so a revocation by any instance holds from the next request on."""

    def __init__(
        self,
        sessions: LoginSessionRepository,
        tokens: AccessTokens,
        events: SecurityEvents,
        policy: SessionPolicy,
        *,
        roles: RoleCatalog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._events = events
        self._policy = policy
        self._roles = roles or RoleCatalog()
        self._clock = clock
        self._touch_every = min(_TOUCH_AT_MOST_EVERY_SECONDS, policy.idle_timeout_seconds / 4)

    async def start(
        self, account: UserAccount, *, device: str, origin: RequestOrigin, mfa_at: float | None
    ) -> IssuedTokens:
        """A new session for an authenticated account (after its password and MFA checks)."""
        if account.status != "active":
            raise Unauthorized("this account is disabled")
        return await asyncio.to_thread(self._start, account, device, origin, mfa_at)

    def _start(
        self, account: UserAccount, device: str, origin: RequestOrigin, mfa_at: float | None
    ) -> IssuedTokens:
        now = self._clock()
        session = LoginSession(
            id=uuid.uuid4().hex,
            tenant_id=account.tenant_id,
            account_id=account.id,
            device=device[:200],
            ip=origin.ip or "",
            user_agent=(origin.user_agent or "")[:500],
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._policy.absolute_timeout_seconds,
            mfa_at=mfa_at,
        )
        plain, token = self._new_refresh(session, parent_id=None, now=now)
        evicted = self._sessions.start(session, token, limit=self._policy.limit_per_account)
        actor = f"user:{account.id}"
        self._events.record(
            "session_start",
            outcome="ok",
            actor=actor,
            tenant_id=account.tenant_id,
            target=session.id,
            origin=origin,
            details={"evicted": evicted} if evicted else None,
        )
        return self._issued(session, plain)

    async def refresh(self, refresh_token: str, origin: RequestOrigin) -> IssuedTokens:
        """New tokens for a refresh token, which is used up; a used one presented again revokes its session."""
        return await asyncio.to_thread(self._refresh, refresh_token.strip(), origin)

    def _refresh(self, presented: str, origin: RequestOrigin) -> IssuedTokens:
        found = (
            self._sessions.refresh_token(_hash(presented)) if presented.startswith(_REFRESH_PREFIX) else None
        )
        if found is None:
            raise Unauthorized("unknown refresh token")
        used, session = found
        now = self._clock()
        if used.used_at is not None:
            self._reused(session, used, origin)
        self._check_session(session, now)
        if used.expires_at <= now:
            raise Unauthorized("refresh token expired")
        current = self._sessions.with_account(session.id)
        if current is None or current[1].status != "active":
            raise Unauthorized("this account is disabled")
        plain, successor = self._new_refresh(session, parent_id=used.id, now=now)
        if not self._sessions.rotate(used, successor, now):
            self._reused(session, used, origin)  # presented twice at once: the second is a replay too
        self._events.record(
            "token_refresh",
            outcome="ok",
            actor=f"user:{session.account_id}",
            tenant_id=session.tenant_id,
            target=session.id,
            origin=origin,
        )
        return self._issued(session, plain)

    def _reused(self, session: LoginSession, used: RefreshTokenRecord, origin: RequestOrigin) -> None:
        self._sessions.revoke(session.tenant_id, session.id, reason="refresh_token_reuse", at=self._clock())
        self._events.record(
            "refresh_token_reuse",
            outcome="denied",
            actor=f"user:{session.account_id}",
            tenant_id=session.tenant_id,
            target=session.id,
            origin=origin,
            details={"token_id": used.id},
        )
        raise Unauthorized("refresh token already used: its session is revoked, log in again")

    def authenticate(self, presented: str) -> Principal:
        """The principal of an access token (blocking: AuthService calls it from a worker thread)."""
        claims = self._tokens.verify(presented)
        found = self._sessions.with_account(claims.session_id)
        if found is None:
            raise Unauthorized("unknown session")
        session, account = found
        if (session.account_id, session.tenant_id, account.tenant_id) != (
            claims.account_id,
            claims.tenant_id,
            claims.tenant_id,
        ):
            raise Unauthorized("access token does not match its session")
        now = self._clock()
        self._check_session(session, now)
        if account.status != "active":
            raise Unauthorized("this account is disabled")
        if now - session.last_seen_at >= self._touch_every:
            self._sessions.touch(session.id, now)
        return Principal(
            tenant_id=claims.tenant_id,
            subject=f"user:{account.id}",
            kind="user",
            roles=frozenset(account.roles),
            permissions=self._roles.permissions(account.tenant_id, account.roles),
            user_ids=frozenset(account.user_ids) if account.user_ids is not None else None,
            team_ids=frozenset(account.team_ids or ()),
            session_id=session.id,
            mfa_at=session.mfa_at,
            password_change_required=account.must_change_password,
        )

    async def confirm_mfa(self, principal: Principal, mfa_at: float) -> None:
        """Record that the principal's session just passed a second factor (MFA activated in it)."""
        await asyncio.to_thread(self._sessions.confirm_mfa, _session_of(principal), mfa_at)

    async def step_up(self, principal: Principal, mfa_at: float) -> tuple[str, int]:
        """A new access token of the principal's session carrying `mfa_at` (its second factor was just
        checked); and its lifetime in seconds."""
        session_id = _session_of(principal)
        account_id = _account_of(principal)

        def run() -> str:
            self._sessions.confirm_mfa(session_id, mfa_at)
            return self._tokens.issue(
                account_id=account_id, tenant_id=principal.tenant_id, session_id=session_id, mfa_at=mfa_at
            )

        return await asyncio.to_thread(run), self._tokens.ttl_seconds

    async def logout(self, principal: Principal, origin: RequestOrigin | None = None) -> None:
        """End the session the principal's access token belongs to."""
        session_id = _session_of(principal)
        await asyncio.to_thread(self._revoke_one, principal, session_id, "logout", origin)

    async def list_sessions(self, principal: Principal) -> list[SessionView]:
        """The caller's own live sessions, newest first."""
        account_id = _account_of(principal)
        now = self._clock()
        live = await asyncio.to_thread(self._sessions.live_sessions, principal.tenant_id, account_id, now)
        fresh = [s for s in live if now - s.last_seen_at <= self._policy.idle_timeout_seconds]
        return [SessionView(s, current=s.id == principal.session_id) for s in fresh]

    async def revoke(
        self, principal: Principal, session_id: str, origin: RequestOrigin | None = None
    ) -> None:
        """Revoke one of the caller's own sessions."""
        _account_of(principal)
        await asyncio.to_thread(self._revoke_one, principal, session_id, "revoked_by_owner", origin)

    def _revoke_one(
        self, principal: Principal, session_id: str, reason: str, origin: RequestOrigin | None
    ) -> None:
        account_id = _account_of(principal)
        revoked = self._sessions.revoke(
            principal.tenant_id, session_id, reason=reason, at=self._clock(), account_id=account_id
        )
        if not revoked:
            raise LoginSessionNotFound(f"no live session {session_id!r} of this account")
        kind = "logout" if reason == "logout" else "session_revoke"
        self._events.record(
            kind,
            outcome="ok",
            actor=principal.subject,
            tenant_id=principal.tenant_id,
            target=session_id,
            origin=origin,
        )

    async def revoke_all(
        self,
        tenant_id: str,
        account_id: str,
        reason: str,
        *,
        actor: str = "system",
        origin: RequestOrigin | None = None,
        keep: str | None = None,
    ) -> list[str]:
        """Revoke every session of an account of the tenant but `keep` (the one a password was changed
        in); the ids revoked."""

        def revoke_others() -> list[str]:
            now = self._clock()
            others = [s.id for s in self._sessions.live_sessions(tenant_id, account_id, now) if s.id != keep]
            return [
                session_id
                for session_id in others
                if self._sessions.revoke(tenant_id, session_id, reason=reason, at=now, account_id=account_id)
            ]

        def run() -> list[str]:
            if keep is None:
                revoked = self._sessions.revoke_all(tenant_id, account_id, reason=reason, at=self._clock())
            else:
                revoked = revoke_others()
            self._events.record(
                "sessions_revoke_all",
                outcome="ok",
                actor=actor,
                tenant_id=tenant_id,
                target=f"user:{account_id}",
                origin=origin,
                details={"reason": reason, "sessions": len(revoked)},
            )
            return revoked

        return await asyncio.to_thread(run)

    def _check_session(self, session: LoginSession, now: float) -> None:
        if session.revoked_at is not None:
            raise Unauthorized("this session is revoked: log in again")
        if session.expires_at <= now:
            raise Unauthorized("this session has ended: log in again")
        if now - session.last_seen_at > self._policy.idle_timeout_seconds:
            raise Unauthorized("this session was idle too long: log in again")

    def _new_refresh(
        self, session: LoginSession, *, parent_id: str | None, now: float
    ) -> tuple[str, RefreshTokenRecord]:
        plain = _REFRESH_PREFIX + secrets.token_urlsafe(32)
        record = RefreshTokenRecord(
            id=uuid.uuid4().hex,
            session_id=session.id,
            token_hash=_hash(plain),
            issued_at=now,
            expires_at=min(now + self._policy.refresh_ttl_seconds, session.expires_at),
            parent_id=parent_id,
        )
        return plain, record

    def _issued(self, session: LoginSession, refresh_token: str) -> IssuedTokens:
        access = self._tokens.issue(
            account_id=session.account_id,
            tenant_id=session.tenant_id,
            session_id=session.id,
            mfa_at=session.mfa_at,
        )
        return IssuedTokens(access, refresh_token, self._tokens.ttl_seconds, session.id)


def _account_of(principal: Principal) -> str:
    if principal.kind != "user" or not principal.subject.startswith("user:"):
        raise Forbidden("login sessions belong to user accounts: sign in with an access token")
    return principal.subject.removeprefix("user:")


def _session_of(principal: Principal) -> str:
    _account_of(principal)
    if principal.session_id is None:
        raise Forbidden("this request carries no login session")
    return principal.session_id
