"""HTTP endpoints of the tenant's authentication policy (`/api/v1/auth/policy`: the caller's tenant's, or
another's for a platform admin naming it in the tenant header) and of self-registration under it
(`/api/v1/auth/register`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from membank.accounts.policy import MAX_EMAIL_DOMAINS, PolicyChange
from membank.accounts.registration import Registrant
from membank.accounts.schemas import DisplayName, Email, Password, TenantName
from membank.api.deps import (
    AdminRead,
    AdminWrite,
    AppContainer,
    request_origin,
    require_recent_mfa,
    unauthenticated_route,
)
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.errors import (
    RateLimitExceeded,
    RegistrationClosed,
    RegistrationDomainRefused,
    StepUpRequired,
    ValidationFailed,
)
from membank.models import from_epoch, iso
from membank.storage.ports.tenant_policy import TenantPolicy

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TenantPolicyIn(BaseModel):
    """Fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    allow_registration: bool | None = Field(
        default=None, description="Whether anyone may create an account of this tenant (POST /auth/register)"
    )
    registration_role: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The role a self-registered account gets: `user` or a custom role granting no more",
    )
    registration_email_domains: list[str] | None = Field(
        default=None,
        max_length=MAX_EMAIL_DOMAINS,
        description="Only emails of these domains may register; empty: any domain",
    )
    mfa_required: bool | None = Field(
        default=None,
        description="Every account of the tenant must set up a second factor before anything else",
    )


class TenantPolicyOut(BaseModel):
    tenant_id: str
    allow_registration: bool
    registration_role: str
    registration_email_domains: list[str]
    mfa_required: bool
    updated_at: str | None


def _policy_out(policy: TenantPolicy) -> TenantPolicyOut:
    return TenantPolicyOut(
        tenant_id=policy.tenant_id,
        allow_registration=policy.allow_registration,
        registration_role=policy.registration_role,
        registration_email_domains=list(policy.registration_email_domains),
        mfa_required=policy.mfa_required,
        updated_at=iso(from_epoch(policy.updated_at)) if policy.updated_at is not None else None,
    )


@router.get("/policy", response_model=Envelope[TenantPolicyOut], responses=error_responses(*AUTHENTICATED))
async def get_policy(principal: AdminRead, container: AppContainer) -> Response:
    """The tenant's registration and MFA policy (the defaults when never set)."""
    return ok(_policy_out(await container.tenant_policies.get(principal.tenant_id)).model_dump())


@router.put(
    "/policy",
    response_model=Envelope[TenantPolicyOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, StepUpRequired, *WITH_BODY),
)
async def put_policy(
    body: TenantPolicyIn, request: Request, principal: AdminWrite, container: AppContainer
) -> Response:
    """Change the tenant's policy; recorded as a security event. Needs a recent second factor on a login
    session."""
    require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    change = PolicyChange(
        allow_registration=body.allow_registration,
        registration_role=body.registration_role,
        registration_email_domains=body.registration_email_domains,
        mfa_required=body.mfa_required,
    )
    policy = await container.tenant_policies.change(principal, change, request_origin(request))
    return ok(_policy_out(policy).model_dump())


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: TenantName = Field(description="The tenant's name")
    email: Email
    password: Password
    display_name: DisplayName = ""


class RegisteredOut(BaseModel):
    status: Literal["registered"]
    message: str


@router.post(
    "/register",
    response_model=Envelope[RegisteredOut],
    status_code=202,
    responses=error_responses(
        ValidationFailed, RegistrationClosed, RegistrationDomainRefused, RateLimitExceeded, *WITH_BODY
    ),
    dependencies=[Depends(unauthenticated_route)],
)
async def register(body: RegisterIn, request: Request, container: AppContainer) -> Response:
    """Create an account of a tenant whose policy allows registration, then log in (POST /auth/login).
    The answer is the same whether or not the email already had an account, and a tenant that does not
    exist answers like a closed one (403 REGISTRATION_CLOSED)."""
    registrant = Registrant(body.tenant, body.email, body.password, body.display_name)
    await container.registration.register(registrant, request_origin(request))
    out = RegisteredOut(status="registered", message="log in with POST /api/v1/auth/login")
    return ok(out.model_dump(), status=202)
