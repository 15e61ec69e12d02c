"""Request and response shapes of the account endpoints and of login."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from membank.auth.schemas import TokensOut
from membank.keys.schemas import RoleName
from membank.memories.schemas import Identifier, UserId
from membank.models import from_epoch, iso
from membank.models.account import UserAccount

# The policy (length in characters and bytes, character classes, common passwords, reuse) is checked by
# the service: a password the schema admits may still be refused with 400 VALIDATION_ERROR naming the rule.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$", max_length=320)]
TenantName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Status = Literal["active", "disabled"]
# Not stripped: a bound the schema states must be the one the server checks (whitespace and all).
DisplayName = Annotated[str, StringConstraints(max_length=100)]
# TOTP codes are digits, recovery codes hex pairs with a dash (either may be typed with spaces).
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{1,64}$")]


class AccountCreate(BaseModel):
    """A new account. Without `password` it cannot log in until an admin sets one (reset-password)."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    display_name: DisplayName = ""
    roles: list[RoleName] = Field(default_factory=lambda: ["user"], min_length=1, max_length=20)
    user_ids: list[UserId] | None = Field(default=None, max_length=1000)
    team_ids: list[Identifier] | None = Field(default=None, max_length=100)
    password: Password | None = None
    must_change_password: bool = False


class AccountPatch(BaseModel):
    """Fields to change; absent fields stay. `user_ids` / `team_ids` null unbind (the role's scope decides)."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[DisplayName, StringConstraints(min_length=1)] | None = None
    roles: list[RoleName] | None = Field(default=None, min_length=1, max_length=20)
    user_ids: list[UserId] | None = Field(default=None, max_length=1000)
    team_ids: list[Identifier] | None = Field(default=None, max_length=100)
    status: Status | None = None


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password = Field(description="A temporary password: the account must change it at login")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: TenantName = Field(description="The tenant's name")
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Password
    device: Annotated[str, StringConstraints(max_length=200)] = ""
    totp_code: Code | None = Field(default=None, description="The authenticator's current code (MFA)")
    recovery_code: Code | None = Field(default=None, description="An unused recovery code, instead")


class MfaCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="The authenticator's current code (disable: or an unused recovery code)")


class StepUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    totp_code: Code | None = None
    recovery_code: Code | None = None


class EnrolmentOut(BaseModel):
    secret: str = Field(description="The TOTP secret (base32): shown in this answer only")
    provisioning_uri: str = Field(description="otpauth:// URI for an authenticator app (as a QR code)")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="One-time codes for when the authenticator is lost: shown once"
    )


class StepUpOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int = Field(description="Seconds the access token is valid for")
    mfa_at: float = Field(description="When the second factor was checked (epoch seconds)")


class LoginOut(TokensOut):
    must_change_password: bool = Field(
        description="The password is temporary or expired: change it (POST /api/v1/auth/password)"
    )


class AccountOut(BaseModel):
    """An account as listed: never a password hash or an MFA secret. Times are ISO 8601 (UTC)."""

    id: str
    email: str
    display_name: str
    status: Status
    roles: list[str]
    user_ids: list[str] | None
    team_ids: list[str] | None
    must_change_password: bool
    has_password: bool
    mfa_enabled: bool
    password_changed_at: str | None
    last_login_at: str | None
    created_at: str | None
    updated_at: str | None


class AccountList(BaseModel):
    accounts: list[AccountOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last page")


class UnlockOut(BaseModel):
    account: AccountOut
    was_locked: bool = Field(description="Whether there were failed logins or a lockout to clear")


def _iso(value: float | None) -> str | None:
    return iso(from_epoch(value)) if value is not None else None


def account_out(account: UserAccount) -> AccountOut:
    return AccountOut(
        id=account.id,
        email=account.email,
        display_name=account.display_name,
        status="disabled" if account.status == "disabled" else "active",
        roles=account.roles,
        user_ids=account.user_ids,
        team_ids=account.team_ids,
        must_change_password=account.must_change_password,
        has_password=account.password_hash is not None,
        mfa_enabled=account.mfa_enabled_at is not None,
        password_changed_at=_iso(account.password_changed_at),
        last_login_at=_iso(account.last_login_at),
        created_at=_iso(account.created_at),
        updated_at=_iso(account.updated_at),
    )
