"""MFA of one's own account: enrol a TOTP authenticator, activate it (recovery codes), disable it; and the
second-factor check of login and step-up. Blocking: called from worker threads."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.mfa import Totp, hash_recovery_code, new_recovery_codes
from membank.errors import Conflict, Forbidden, ValidationFailed
from membank.models import Principal
from membank.models.account import UserAccount
from membank.storage.ports import AccountRepository


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    provisioning_uri: str


def own_account_id(principal: Principal) -> str:
    if principal.kind != "user" or principal.session_id is None:
        raise Forbidden("only a signed-in account does this: sign in with an access token")
    return principal.subject.removeprefix("user:")


class MfaService:
    def __init__(
        self,
        accounts: AccountRepository,
        totp: Totp,
        events: SecurityEvents,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = accounts
        self._totp = totp
        self._events = events
        self._clock = clock

    def enrol(self, principal: Principal, origin: RequestOrigin) -> Enrolment:
        """A new TOTP secret, stored sealed and not yet active (activate proves the app has it)."""
        account = self._own(principal)
        if account.mfa_enabled_at is not None:
            raise Conflict("MFA is active on this account: disable it first", details={"field": "mfa"})
        secret = self._totp.new_secret()
        sealed = self._totp.seal(account.id, secret)
        self._accounts.update(account.tenant_id, account.id, {"mfa_secret": sealed}, at=self._clock())
        self._record(account, "mfa.enrol", origin)
        return Enrolment(secret, self._totp.provisioning_uri(secret, account.email))

    def activate(self, principal: Principal, code: str, origin: RequestOrigin) -> list[str]:
        """Turn MFA on with a current code; the recovery codes, shown this once."""
        account = self._own(principal)
        if account.mfa_enabled_at is not None:
            raise Conflict("MFA is already active on this account", details={"field": "mfa"})
        if account.mfa_secret is None:
            raise Conflict(
                "no authenticator is enrolled: POST /api/v1/auth/mfa/enrol first", details={"field": "mfa"}
            )
        if not self._totp.accept(account.id, self._totp.open(account.id, account.mfa_secret), code):
            raise ValidationFailed.field("code", "is not a current code of the enrolled authenticator")
        codes = new_recovery_codes()
        now = self._clock()
        self._accounts.replace_recovery_codes(account.id, [hash_recovery_code(c) for c in codes], at=now)
        self._accounts.update(account.tenant_id, account.id, {"mfa_enabled_at": now}, at=now)
        self._record(account, "mfa.activate", origin)
        return codes

    def disable(self, principal: Principal, code: str, origin: RequestOrigin) -> None:
        """Turn MFA off, with a current code (or a recovery code)."""
        account = self._own(principal)
        if account.mfa_enabled_at is None:
            raise Conflict("MFA is not active on this account", details={"field": "mfa"})
        if not self.second_factor(account, totp_code=code, recovery_code=code):
            raise ValidationFailed.field("code", "is not a current code or an unused recovery code")
        self.clear(account)
        self._record(account, "mfa.disable", origin)

    def clear(self, account: UserAccount) -> None:
        """Forget the account's authenticator and recovery codes (it disables MFA, or an admin resets it)."""
        now = self._clock()
        self._accounts.update(
            account.tenant_id, account.id, {"mfa_secret": None, "mfa_enabled_at": None}, at=now
        )
        self._accounts.replace_recovery_codes(account.id, [], at=now)

    def second_factor(
        self, account: UserAccount, *, totp_code: str | None, recovery_code: str | None
    ) -> bool:
        """Whether a current TOTP code or an unused recovery code (used up) of the active MFA is given."""
        if account.mfa_enabled_at is None or account.mfa_secret is None:
            return False
        secret = self._totp.open(account.id, account.mfa_secret)
        if totp_code and self._totp.accept(account.id, secret, totp_code):
            return True
        if recovery_code:
            return self._accounts.use_recovery_code(
                account.id, hash_recovery_code(recovery_code), at=self._clock()
            )
        return False

    def _own(self, principal: Principal) -> UserAccount:
        account = self._accounts.get(principal.tenant_id, own_account_id(principal))
        if account is None:
            raise Forbidden("this session's account is gone")
        return account

    def _record(self, account: UserAccount, kind: str, origin: RequestOrigin) -> None:
        self._events.record(
            kind,
            outcome="ok",
            actor=f"user:{account.id}",
            tenant_id=account.tenant_id,
            target=account.id,
            origin=origin,
        )
