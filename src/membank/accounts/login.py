"""Logging in with email and password (lockout per tenant and email), and changing one's own password.

Every failure looks the same from outside: an unknown tenant or email is verified against a dummy hash
and counts toward the lockout exactly like a wrong password, so neither the answer, its timing nor the
lockout says whether an account exists."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from membank.accounts.mfa import MfaService, own_account_id
from membank.accounts.service import normalise_email
from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.passwords import Passwords
from membank.auth.sessions import IssuedTokens, SessionService
from membank.errors import AccountLocked, Conflict, InvalidCredentials, MfaRequired
from membank.models import Principal
from membank.models.account import UserAccount
from membank.storage.ports import AccountRepository, KeyRepository, LockoutPolicy, LoginFailureStore

INVALID_CREDENTIALS_MESSAGE = "invalid tenant, email or password"
_DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class LoginResult:
    tokens: IssuedTokens
    must_change_password: bool


@dataclass(frozen=True, slots=True)
class Credentials:
    tenant: str
    email: str
    password: str
    device: str = ""
    totp_code: str | None = None
    recovery_code: str | None = None


class LoginService:
    def __init__(
        self,
        accounts: AccountRepository,
        tenants: KeyRepository,
        passwords: Passwords,
        lockout: LockoutPolicy,
        *,
        failures: LoginFailureStore,
        mfa: MfaService,
        sessions: SessionService,
        events: SecurityEvents,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = accounts
        self._tenants = tenants
        self._passwords = passwords
        self._lockout = lockout
        self._failures = failures
        self._mfa = mfa
        self._sessions = sessions
        self._events = events
        self._clock = clock

    async def login(self, credentials: Credentials, origin: RequestOrigin) -> LoginResult:
        """A new login session for right credentials; 401 INVALID_CREDENTIALS or 429 ACCOUNT_LOCKED else."""
        account, mfa_at = await asyncio.to_thread(self._authenticate, credentials, origin)
        tokens = await self._sessions.start(account, device=credentials.device, origin=origin, mfa_at=mfa_at)
        return LoginResult(tokens, account.must_change_password)

    def _authenticate(
        self, credentials: Credentials, origin: RequestOrigin
    ) -> tuple[UserAccount, float | None]:
        email = normalise_email(credentials.email)
        tenant = self._tenants.tenant_by_name(credentials.tenant)
        # Failures of a tenant that does not exist are counted too, under a key no tenant id can take.
        tenant_key = tenant.id if tenant is not None else f"unknown:{credentials.tenant}"
        self._refuse_locked(tenant_key, email, tenant.id if tenant else None, origin)
        account = self._accounts.by_email(tenant.id, email) if tenant is not None else None
        verified = self._passwords.verify(account.password_hash if account else None, credentials.password)
        if account is None or not verified or account.status != "active":
            reason = (
                "unknown_account" if account is None else "wrong_password" if not verified else "disabled"
            )
            self._fail(tenant_key, email, tenant.id if tenant else None, account, origin, reason)
        assert account is not None and account.password_hash is not None
        mfa_at = self._second_factor(tenant_key, email, account, credentials, origin)
        self._failures.clear(tenant_key, email)
        if self._passwords.needs_rehash(account.password_hash):
            self._accounts.replace_hash(
                account.id, account.password_hash, self._passwords.hash(credentials.password)
            )
        if self._expired(account) and not account.must_change_password:
            changed = self._accounts.update(
                account.tenant_id, account.id, {"must_change_password": True}, at=self._clock()
            )
            account = changed or account
        self._record("login", "ok", account.tenant_id, account.id, origin, mfa=mfa_at is not None)
        return account, mfa_at

    def _second_factor(
        self,
        tenant_key: str,
        email: str,
        account: UserAccount,
        credentials: Credentials,
        origin: RequestOrigin,
    ) -> float | None:
        """When the account has MFA: the time it was checked; a missing code is 401 MFA_REQUIRED (the password
        was right: not a failure), a wrong one a failure like a wrong password."""
        if account.mfa_enabled_at is None:
            return None
        if not credentials.totp_code and not credentials.recovery_code:
            self._record("login", "mfa_required", account.tenant_id, account.id, origin)
            raise MfaRequired("this account needs a second factor: send totp_code or recovery_code")
        if not self._mfa.second_factor(
            account, totp_code=credentials.totp_code, recovery_code=credentials.recovery_code
        ):
            self._fail(tenant_key, email, account.tenant_id, account, origin, "wrong_code")
        return self._clock()

    async def change_password(
        self, principal: Principal, current: str, new: str, origin: RequestOrigin
    ) -> UserAccount:
        """The caller's own new password (after the current one); every other session of it ends."""
        account_id = own_account_id(principal)

        def run() -> UserAccount:
            account = self._accounts.get(principal.tenant_id, account_id)
            if account is None:
                raise InvalidCredentials(INVALID_CREDENTIALS_MESSAGE)
            self._refuse_locked(account.tenant_id, account.email, account.tenant_id, origin)
            if not self._passwords.verify(account.password_hash, current):
                self._fail(
                    account.tenant_id, account.email, account.tenant_id, account, origin, "wrong_password"
                )
            policy = self._passwords.policy
            history = self._accounts.password_history(account.id, policy.history)
            self._passwords.check(new, email=account.email, previous_hashes=history)
            now = self._clock()
            self._accounts.set_password(
                account.tenant_id,
                account.id,
                self._passwords.hash(new),
                at=now,
                must_change=False,
                keep_history=policy.history,
            )
            self._record("password.change", "ok", account.tenant_id, account.id, origin)
            changed = self._accounts.get(account.tenant_id, account.id)
            assert changed is not None
            return changed

        account = await asyncio.to_thread(run)
        await self._sessions.revoke_all(
            account.tenant_id,
            account.id,
            "password_changed",
            actor=principal.subject,
            origin=origin,
            keep=principal.session_id,
        )
        return account

    def confirm_second_factor(
        self, principal: Principal, totp_code: str | None, recovery_code: str | None, origin: RequestOrigin
    ) -> float:
        """Step-up: the time a signed-in account's second factor was checked again. A wrong code counts
        toward the lockout like a failed login (six digits must not be guessable by repetition)."""
        account = self._accounts.get(principal.tenant_id, own_account_id(principal))
        if account is None:
            raise InvalidCredentials(INVALID_CREDENTIALS_MESSAGE)
        if account.mfa_enabled_at is None:
            raise Conflict("MFA is not active on this account: enrol first", details={"field": "mfa"})
        self._refuse_locked(account.tenant_id, account.email, account.tenant_id, origin)
        if not self._mfa.second_factor(account, totp_code=totp_code, recovery_code=recovery_code):
            self._fail(account.tenant_id, account.email, account.tenant_id, account, origin, "wrong_code")
        self._record("step_up", "ok", account.tenant_id, account.id, origin)
        return self._clock()

    def _refuse_locked(
        self, tenant_key: str, email: str, tenant_id: str | None, origin: RequestOrigin
    ) -> None:
        failures = self._failures.get(tenant_key, email)
        now = self._clock()
        if failures is not None and failures.locked_until is not None and failures.locked_until > now:
            self._record("login", "locked", tenant_id, None, origin)
            raise AccountLocked(
                "too many failed logins: try again later",
                retry_after=max(1, math.ceil(failures.locked_until - now)),
            )

    def _fail(
        self,
        tenant_key: str,
        email: str,
        tenant_id: str | None,
        account: UserAccount | None,
        origin: RequestOrigin,
        reason: str,
    ) -> None:
        state = self._failures.record(tenant_key, email, self._lockout, at=self._clock())
        target = account.id if account else None
        # The failure that reaches the limit starts the lockout and begins the count anew.
        self._record("login", "failed", tenant_id, target, origin, reason=reason, locked=state.failures == 0)
        raise InvalidCredentials(INVALID_CREDENTIALS_MESSAGE)

    def _expired(self, account: UserAccount) -> bool:
        days = self._passwords.policy.expiry_days
        changed = account.password_changed_at
        return days > 0 and changed is not None and self._clock() - changed > days * _DAY_SECONDS

    def _record(
        self,
        kind: str,
        outcome: str,
        tenant_id: str | None,
        target: str | None,
        origin: RequestOrigin,
        **details: object,
    ) -> None:
        actor = f"user:{target}" if target else "anonymous"
        self._events.record(
            kind,
            outcome=outcome,
            actor=actor,
            tenant_id=tenant_id,
            target=target,
            origin=origin,
            details=dict(details),
        )
