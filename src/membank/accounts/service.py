"""Administration of a tenant's human accounts: create, list, change, reset a password, unlock, disable.
Blocking (argon2, the store): the endpoints call it in a worker thread; revoking sessions goes through the
session service, which is async, so those methods are async."""

from __future__ import annotations

import asyncio
import builtins
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass

from membank.accounts.mfa import MfaService, own_account_id
from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.passwords import Passwords
from membank.auth.rbac import RoleCatalog
from membank.auth.sessions import SessionService
from membank.errors import AccountNotFound, Conflict, Forbidden, ValidationFailed
from membank.models import Principal
from membank.models.account import UserAccount
from membank.models.principal import REACHES
from membank.storage.ports import AccountRepository, LoginFailureStore


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively: stored and looked up lower case."""
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class NewAccount:
    email: str
    roles: list[str]
    display_name: str = ""
    user_ids: list[str] | None = None
    team_ids: list[str] | None = None
    password: str | None = None
    must_change_password: bool = False


def _tenant_wide(principal: Principal, action: str) -> None:
    # Accounts are tenant-wide objects (not an end user's): only a tenant-wide grant reaches them.
    if principal.reach("users", action) != "all":
        raise Forbidden(
            f"managing accounts needs users:{action} on the whole tenant",
            details={"permission": f"users:{action}:all"},
        )


class AccountAdmin:
    def __init__(
        self,
        accounts: AccountRepository,
        passwords: Passwords,
        *,
        failures: LoginFailureStore,
        roles: RoleCatalog,
        mfa: MfaService,
        sessions: SessionService,
        events: SecurityEvents,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = accounts
        self._passwords = passwords
        self._failures = failures
        self._roles = roles
        self._mfa = mfa
        self._sessions = sessions
        self._events = events
        self._clock = clock

    def create(self, principal: Principal, spec: NewAccount, origin: RequestOrigin) -> UserAccount:
        """A new account of the principal's tenant (without a password it cannot log in until reset)."""
        _tenant_wide(principal, "write")
        self._check_roles(principal, spec.roles, spec.user_ids, origin, "account.create")
        email = normalise_email(spec.email)
        now = self._clock()
        account = UserAccount(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            email=email,
            display_name=spec.display_name.strip() or email.split("@", 1)[0],
            status="active",
            roles=list(spec.roles),
            created_at=now,
            updated_at=now,
            user_ids=spec.user_ids,
            team_ids=spec.team_ids,
            must_change_password=spec.must_change_password,
        )
        if spec.password is not None:
            self._passwords.check(spec.password, email=email)
            account.password_hash = self._passwords.hash(spec.password)
            account.password_changed_at = now
        if not self._accounts.create(account):
            raise Conflict("an account with this email exists in the tenant", details={"field": "email"})
        self._events.record_by(principal, "account.create", "ok", account.id, origin, roles=spec.roles)
        return account

    def list(self, principal: Principal, *, limit: int, after: str | None) -> builtins.list[UserAccount]:
        """A page of the tenant's accounts, by email."""
        _tenant_wide(principal, "read")
        return self._accounts.list(principal.tenant_id, limit=limit, after=after)

    def get(self, principal: Principal, account_id: str) -> UserAccount:
        _tenant_wide(principal, "read")
        return self._account(principal, account_id)

    async def update(
        self, principal: Principal, account_id: str, changes: dict[str, object], origin: RequestOrigin
    ) -> UserAccount:
        """Change the display name, roles, bindings or status; disabling ends the account's sessions."""

        def run() -> UserAccount:
            account = self._managed(principal, account_id, origin, "account.update")
            roles = changes.get("roles", account.roles)
            user_ids = changes.get("user_ids", account.user_ids)
            assert isinstance(roles, builtins.list) and (
                user_ids is None or isinstance(user_ids, builtins.list)
            )
            self._check_roles(principal, roles, user_ids, origin, "account.update")
            if changes.get("status") == "disabled":
                self._not_self(principal, account)
            updated = self._accounts.update(principal.tenant_id, account.id, changes, at=self._clock())
            if updated is None:
                raise AccountNotFound(f"no account {account_id!r} in this tenant")
            self._events.record_by(
                principal, "account.update", "ok", account.id, origin, fields=sorted(changes)
            )
            return updated

        updated = await asyncio.to_thread(run)
        if changes.get("status") == "disabled":
            await self._end_sessions(principal, updated, "account_disabled", origin)
        return updated

    async def disable(self, principal: Principal, account_id: str, origin: RequestOrigin) -> UserAccount:
        return await self.update(principal, account_id, {"status": "disabled"}, origin)

    async def reset_password(
        self, principal: Principal, account_id: str, password: str, origin: RequestOrigin
    ) -> UserAccount:
        """A temporary password the account must change at its next login; its sessions end."""

        def run() -> UserAccount:
            account = self._managed(principal, account_id, origin, "password.reset")
            policy = self._passwords.policy
            history = self._accounts.password_history(account.id, policy.history)
            self._passwords.check(password, email=account.email, previous_hashes=history)
            self._accounts.set_password(
                account.tenant_id,
                account.id,
                self._passwords.hash(password),
                at=self._clock(),
                must_change=True,
                keep_history=policy.history,
            )
            self._events.record_by(principal, "password.reset", "ok", account.id, origin)
            return self._account(principal, account.id)

        account = await asyncio.to_thread(run)
        await self._end_sessions(principal, account, "password_reset", origin)
        return account

    async def reset_mfa(self, principal: Principal, account_id: str, origin: RequestOrigin) -> UserAccount:
        """Forget the account's authenticator and recovery codes (it lost them); its sessions end."""

        def run() -> UserAccount:
            account = self._managed(principal, account_id, origin, "mfa.reset")
            self._mfa.clear(account)
            self._events.record_by(principal, "mfa.reset", "ok", account.id, origin)
            return self._account(principal, account.id)

        account = await asyncio.to_thread(run)
        await self._end_sessions(principal, account, "mfa_reset", origin)
        return account

    def unlock(self, principal: Principal, account_id: str, origin: RequestOrigin) -> bool:
        """End the account's lockout and forget its failed logins; whether there were any."""
        account = self._managed(principal, account_id, origin, "account.unlock")
        cleared = self._failures.clear(account.tenant_id, account.email)
        self._events.record_by(principal, "account.unlock", "ok", account.id, origin, had_failures=cleared)
        return cleared

    def own(self, principal: Principal) -> UserAccount:
        """The signed-in caller's own account."""
        return self._account(principal, own_account_id(principal))

    def _account(self, principal: Principal, account_id: str) -> UserAccount:
        found = self._accounts.get(principal.tenant_id, account_id)
        if found is None:
            raise AccountNotFound(f"no account {account_id!r} in this tenant")
        return found

    def _managed(
        self, principal: Principal, account_id: str, origin: RequestOrigin, kind: str
    ) -> UserAccount:
        # Managing an account (its password above all) hands over all it may do: only to a caller who holds
        # as much already.
        _tenant_wide(principal, "write")
        account = self._account(principal, account_id)
        try:
            self._refuse_escalation(principal, account.roles, account.user_ids)
        except Forbidden as refusal:
            self._events.record_by(principal, kind, "denied", account.id, origin, reason=refusal.message)
            raise
        return account

    def _check_roles(
        self,
        principal: Principal,
        roles: builtins.list[str],
        user_ids: builtins.list[str] | None,
        origin: RequestOrigin,
        kind: str,
    ) -> None:
        unknown = self._roles.unknown(principal.tenant_id, roles)
        if unknown:
            raise ValidationFailed.field("roles", f"unknown roles {unknown}")
        try:
            self._refuse_escalation(principal, roles, user_ids)
        except Forbidden as refusal:
            self._events.record_by(principal, kind, "denied", None, origin, reason=refusal.message)
            raise

    def _refuse_escalation(
        self, principal: Principal, roles: Collection[str], user_ids: Collection[str] | None
    ) -> None:
        # The same rule as for keys: an account gets only what the caller holds, at no wider scope, for no
        # other end users.
        for permission in sorted(self._roles.permissions(principal.tenant_id, roles)):
            held = principal.reach(permission.resource, permission.action)
            if held is None or REACHES.index(held) < REACHES.index(permission.scope):
                raise Forbidden(f"the account would hold {permission}, which the caller does not hold")
        bound = principal.user_ids
        if bound is not None and (user_ids is None or not set(user_ids) <= bound):
            raise Forbidden("the account must be bound to end users the caller is bound to")

    @staticmethod
    def _not_self(principal: Principal, account: UserAccount) -> None:
        if principal.subject == f"user:{account.id}":
            raise Conflict("an account cannot disable itself", details={"field": "status"})

    async def _end_sessions(
        self, principal: Principal, account: UserAccount, reason: str, origin: RequestOrigin
    ) -> None:
        await self._sessions.revoke_all(
            account.tenant_id, account.id, reason, actor=principal.subject, origin=origin
        )
