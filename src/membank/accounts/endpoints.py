"""HTTP endpoints of human accounts: administration (`/api/v1/accounts`), login and own password change."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from membank.accounts.login import Credentials
from membank.accounts.schemas import (
    AccountCreate,
    AccountList,
    AccountOut,
    AccountPatch,
    EnrolmentOut,
    LoginIn,
    LoginOut,
    MfaCode,
    PasswordChange,
    PasswordReset,
    RecoveryCodesOut,
    StepUpIn,
    StepUpOut,
    UnlockOut,
    account_out,
)
from membank.accounts.service import NewAccount
from membank.api.deps import (
    AppContainer,
    CurrentPrincipal,
    UsersRead,
    UsersWrite,
    request_origin,
    require_recent_mfa,
    unauthenticated_route,
)
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.errors import (
    AccountLocked,
    AccountNotFound,
    BackendUnavailable,
    Conflict,
    InvalidCredentials,
    MemBankError,
    MfaRequired,
    RateLimitExceeded,
    StepUpRequired,
    ValidationFailed,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])

AccountId = Annotated[str, Path(max_length=64)]
MAX_PAGE = 200
_ERRORS: tuple[type[MemBankError], ...] = (ValidationFailed, *AUTHENTICATED, AccountNotFound)
# Fields whose null means "unbind" rather than "leave as it is".
_NULLABLE = ("user_ids", "team_ids")


@router.post(
    "/accounts",
    response_model=Envelope[AccountOut],
    status_code=201,
    responses=error_responses(ValidationFailed, *AUTHENTICATED, Conflict, *WITH_BODY),
)
async def create_account(
    body: AccountCreate, request: Request, principal: UsersWrite, container: AppContainer
) -> Response:
    """Create an account of the tenant; its roles may not grant more than the caller holds."""
    spec = NewAccount(**body.model_dump())
    account = await asyncio.to_thread(
        container.account_admin.create, principal, spec, request_origin(request)
    )
    return ok(account_out(account).model_dump(), status=201)


@router.get(
    "/accounts",
    response_model=Envelope[AccountList],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def list_accounts(
    principal: UsersRead,
    container: AppContainer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[
        str | None, Query(max_length=320, description="The last email of the previous page")
    ] = None,
) -> Response:
    """The tenant's accounts by email, a page at a time."""
    accounts = await asyncio.to_thread(container.account_admin.list, principal, limit=limit, after=after)
    next_after = accounts[-1].email if len(accounts) == limit else None
    listed = AccountList(accounts=[account_out(a) for a in accounts], next_after=next_after)
    return ok(listed.model_dump())


@router.get(
    "/accounts/{account_id}", response_model=Envelope[AccountOut], responses=error_responses(*_ERRORS)
)
async def get_account(account_id: AccountId, principal: UsersRead, container: AppContainer) -> Response:
    """One account of the tenant."""
    account = await asyncio.to_thread(container.account_admin.get, principal, account_id)
    return ok(account_out(account).model_dump())


@router.patch(
    "/accounts/{account_id}",
    response_model=Envelope[AccountOut],
    responses=error_responses(*_ERRORS, StepUpRequired, Conflict, *WITH_BODY),
)
async def update_account(
    account_id: AccountId,
    body: AccountPatch,
    request: Request,
    principal: UsersWrite,
    container: AppContainer,
) -> Response:
    """Change the display name, roles, bound end users and teams, or status (disabling ends its sessions)."""
    given = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in given.items() if v is not None or k in _NULLABLE}
    if "roles" in changes:
        require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    account = await container.account_admin.update(principal, account_id, changes, request_origin(request))
    return ok(account_out(account).model_dump())


@router.delete(
    "/accounts/{account_id}",
    response_model=Envelope[AccountOut],
    responses=error_responses(*_ERRORS, Conflict),
)
async def disable_account(
    account_id: AccountId, request: Request, principal: UsersWrite, container: AppContainer
) -> Response:
    """Disable the account (the row stays, for its audit trail) and end its sessions."""
    account = await container.account_admin.disable(principal, account_id, request_origin(request))
    return ok(account_out(account).model_dump())


@router.post(
    "/accounts/{account_id}/reset-password",
    response_model=Envelope[AccountOut],
    responses=error_responses(*_ERRORS, *WITH_BODY),
)
async def reset_password(
    account_id: AccountId,
    body: PasswordReset,
    request: Request,
    principal: UsersWrite,
    container: AppContainer,
) -> Response:
    """Set a temporary password (to be changed at the next login) and end the account's sessions."""
    account = await container.account_admin.reset_password(
        principal, account_id, body.password, request_origin(request)
    )
    return ok(account_out(account).model_dump())


@router.post(
    "/accounts/{account_id}/unlock", response_model=Envelope[UnlockOut], responses=error_responses(*_ERRORS)
)
async def unlock_account(
    account_id: AccountId, request: Request, principal: UsersWrite, container: AppContainer
) -> Response:
    """End a lockout after failed logins (and forget the failures)."""
    admin = container.account_admin
    was_locked = await asyncio.to_thread(admin.unlock, principal, account_id, request_origin(request))
    account = await asyncio.to_thread(admin.get, principal, account_id)
    return ok(UnlockOut(account=account_out(account), was_locked=was_locked).model_dump())


@router.post(
    "/auth/login",
    response_model=Envelope[LoginOut],
    responses=error_responses(
        ValidationFailed,
        InvalidCredentials,
        MfaRequired,
        AccountLocked,
        RateLimitExceeded,
        BackendUnavailable,
        *WITH_BODY,
    ),
    dependencies=[Depends(unauthenticated_route)],
)
async def login(body: LoginIn, request: Request, container: AppContainer) -> Response:
    """Log in with the tenant's name, an email and a password (and, for an account with MFA, `totp_code` or
    `recovery_code`: 401 MFA_REQUIRED without): an access token and a refresh token. Every failure is 401
    INVALID_CREDENTIALS; too many in a row lock the tenant and email (429 ACCOUNT_LOCKED, Retry-After)."""
    credentials = Credentials(
        body.tenant, body.email, body.password, body.device, body.totp_code, body.recovery_code
    )
    result = await container.logins.login(credentials, request_origin(request))
    issued = result.tokens
    out = LoginOut(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
        session_id=issued.session_id,
        must_change_password=result.must_change_password,
    )
    return ok(out.model_dump(), headers={"Cache-Control": "no-store"})


@router.post(
    "/auth/password",
    response_model=Envelope[AccountOut],
    responses=error_responses(
        ValidationFailed, *AUTHENTICATED, InvalidCredentials, AccountLocked, *WITH_BODY
    ),
)
async def change_password(
    body: PasswordChange, request: Request, principal: CurrentPrincipal, container: AppContainer
) -> Response:
    """Change the caller's own password (the current one first); the caller's other sessions end."""
    account = await container.logins.change_password(
        principal, body.current_password, body.new_password, request_origin(request)
    )
    return ok(account_out(account).model_dump(), message="password changed")


@router.post(
    "/accounts/{account_id}/reset-mfa",
    response_model=Envelope[AccountOut],
    responses=error_responses(*_ERRORS),
)
async def reset_mfa(
    account_id: AccountId, request: Request, principal: UsersWrite, container: AppContainer
) -> Response:
    """Turn off the account's MFA (a lost authenticator): it may enrol anew; its sessions end."""
    account = await container.account_admin.reset_mfa(principal, account_id, request_origin(request))
    return ok(account_out(account).model_dump())


_MFA_ERRORS: tuple[type[MemBankError], ...] = (ValidationFailed, *AUTHENTICATED, Conflict)


@router.post(
    "/auth/mfa/enrol", response_model=Envelope[EnrolmentOut], responses=error_responses(*_MFA_ERRORS)
)
async def enrol_mfa(request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """A new TOTP secret for the caller's account (not active until activated with a code)."""
    enrolment = await asyncio.to_thread(container.mfa.enrol, principal, request_origin(request))
    out = EnrolmentOut(secret=enrolment.secret, provisioning_uri=enrolment.provisioning_uri)
    return ok(out.model_dump(), headers={"Cache-Control": "no-store"}, message="store the secret now")


@router.post(
    "/auth/mfa/activate",
    response_model=Envelope[RecoveryCodesOut],
    responses=error_responses(*_MFA_ERRORS, *WITH_BODY),
)
async def activate_mfa(
    body: MfaCode, request: Request, principal: CurrentPrincipal, container: AppContainer
) -> Response:
    """Turn MFA on with the authenticator's current code: the recovery codes, shown this once."""
    codes = await asyncio.to_thread(container.mfa.activate, principal, body.code, request_origin(request))
    # The code just proved the second factor: this session counts as MFA-checked (roles requiring MFA).
    await container.sessions.confirm_mfa(principal, time.time())
    return ok(
        RecoveryCodesOut(recovery_codes=codes).model_dump(),
        headers={"Cache-Control": "no-store"},
        message="store the recovery codes now",
    )


@router.post(
    "/auth/mfa/disable",
    response_model=Envelope[AccountOut],
    responses=error_responses(*_MFA_ERRORS, *WITH_BODY),
)
async def disable_mfa(
    body: MfaCode, request: Request, principal: CurrentPrincipal, container: AppContainer
) -> Response:
    """Turn MFA off, with a current code or an unused recovery code."""
    await asyncio.to_thread(container.mfa.disable, principal, body.code, request_origin(request))
    account = await asyncio.to_thread(container.account_admin.own, principal)
    return ok(account_out(account).model_dump())


@router.post(
    "/auth/step-up",
    response_model=Envelope[StepUpOut],
    responses=error_responses(
        ValidationFailed, *AUTHENTICATED, InvalidCredentials, Conflict, AccountLocked, *WITH_BODY
    ),
)
async def step_up(
    body: StepUpIn, request: Request, principal: CurrentPrincipal, container: AppContainer
) -> Response:
    """Confirm the second factor again: a new access token of this session whose MFA check is now."""
    mfa_at = await asyncio.to_thread(
        container.logins.confirm_second_factor,
        principal,
        body.totp_code,
        body.recovery_code,
        request_origin(request),
    )
    access, expires_in = await container.sessions.step_up(principal, mfa_at)
    out = StepUpOut(access_token=access, expires_in=expires_in, mfa_at=mfa_at)
    return ok(out.model_dump(), headers={"Cache-Control": "no-store"})
