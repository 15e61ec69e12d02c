"""Request dependencies, named for what they grant."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from membank.api.client_ip import client_ip
from membank.api.rate_limits import STATE_KEY
from membank.auth.events import RequestOrigin
from membank.auth.request_guard import RequestFacts, SignedParts, needs_signature_check
from membank.auth.request_signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from membank.auth.service import KeyCheck
from membank.bootstrap import Container
from membank.errors import (
    Forbidden,
    MemBankError,
    MfaEnrolmentRequired,
    PasswordChangeRequired,
    StepUpRequired,
    Unauthorized,
)
from membank.models import Principal
from membank.observability.usage import bind_usage, record_usage

# A platform admin names the tenant it acts in (by name) with this header; nobody else may send it.
TENANT_HEADER = "X-MemBank-Tenant"


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


AppContainer = Annotated[Container, Depends(get_container)]


# The two ways to present a key, declared as OpenAPI security schemes (so the docs page can authenticate);
# they only read the headers, the key is checked by the auth service.
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
_BEARER = HTTPBearer(auto_error=False, description="An API key as a bearer token")


async def current_principal(
    request: Request,
    container: AppContainer,
    x_api_key: Annotated[str | None, Security(_API_KEY)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> Principal:
    # x_api_key and bearer declare the two schemes in the OpenAPI document; presented_key reads them (and
    # mem0's `Token` scheme) the same way for the routes outside FastAPI's dependencies.
    del x_api_key, bearer
    try:
        check = await container.auth.authenticate_key(presented_key(request))
    except Unauthorized:
        # Guessing keys is limited per client address, like the public token routes.
        await limit_unauthenticated(request, container)
        raise
    await container.ip_rules.check_tenant(check.principal.tenant_id, request_origin(request))
    if check.key is not None:
        await container.request_guard.verify(check, await _request_facts(request, check))
    principal = check.principal
    # Limits are per key and tenant, so they are checked once the key is known; every answer carries them.
    limits = await container.rate_limiter.check(principal)
    setattr(request.state, STATE_KEY, limits.headers)
    if limits.refusal is not None:
        raise limits.refusal
    _refuse_before_password_change(request, principal)
    await _refuse_without_required_mfa(request, container, principal)
    target = request.headers.get(TENANT_HEADER)
    if target is not None:
        principal = await _cross_tenant(request, container, principal, target)
    # What the request does from here on is counted for its tenant, and its log lines (the access line
    # included) name the tenant and the principal (the request runs in a context of its own).
    bind_usage(container.usage_meter, principal.tenant_id)
    structlog.contextvars.bind_contextvars(tenant=principal.tenant_id, principal=principal.subject)
    record_usage("requests")
    return principal


def presented_key(request: Request) -> str | None:
    """The key or access token a request presents: X-API-Key, else `Authorization: Bearer <key or token>`,
    else `Authorization: Token <key>` (how mem0's clients present their key, for the mem0-compatible routes)."""
    api_key = request.headers.get(_API_KEY.model.name)
    if api_key:
        return api_key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "token") and credentials.strip():
        return credentials.strip()
    return None


# What a session that must change its password first may still do.
_PASSWORD_CHANGE_PATHS = frozenset(
    {"/api/v1/auth/password", "/api/v1/auth/sessions", "/api/v1/auth/logout", "/api/v1/auth/me"}
)
# What a session that must set up MFA first may still do.
_ENROLMENT_PATHS = _PASSWORD_CHANGE_PATHS | {"/api/v1/auth/mfa/enrol", "/api/v1/auth/mfa/activate"}


def _refuse_before_password_change(request: Request, principal: Principal) -> None:
    if principal.password_change_required and request.url.path not in _PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired(
            "this account's password must be changed first (POST /api/v1/auth/password)",
            details={"field": "password"},
        )


async def _refuse_without_required_mfa(request: Request, container: Container, principal: Principal) -> None:
    # A session that passed a second factor (login or step-up) has mfa_at; one without it, of an account
    # whose roles or tenant policy require MFA, only gets to set it up.
    if principal.kind != "user" or principal.session_id is None or principal.mfa_at is not None:
        return
    if request.url.path in _ENROLMENT_PATHS:
        return
    roles = sorted(principal.roles.intersection(container.settings.mfa_required_roles))
    if roles:
        raise MfaEnrolmentRequired(
            "the roles of this account require MFA: enrol (POST /api/v1/auth/mfa/enrol, then activate) first",
            details={"roles": roles},
        )
    if (await container.tenant_policies.get(principal.tenant_id)).mfa_required:
        raise MfaEnrolmentRequired(
            "this tenant requires MFA: enrol (POST /api/v1/auth/mfa/enrol, then activate) first",
            details={"tenant_policy": "mfa_required"},
        )


async def limit_unauthenticated(request: Request, container: Container) -> None:
    """Charge the request to its client address (MEMBANK_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE): 429 when
    the address is over its limit."""
    limits = await container.rate_limiter.check_address(client_ip(request))
    if limits.refusal is not None:
        setattr(request.state, STATE_KEY, limits.headers)
        raise limits.refusal


async def unauthenticated_route(request: Request, container: AppContainer) -> None:
    """The dependency of public routes that take credentials (token refresh, login)."""
    await limit_unauthenticated(request, container)


def request_origin(request: Request) -> RequestOrigin:
    """Where the request came from, for security events and new sessions."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return RequestOrigin(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        request_id=request_id if isinstance(request_id, str) else None,
    )


async def _request_facts(request: Request, check: KeyCheck) -> RequestFacts:
    headers = request.headers
    signed = SignedParts(
        headers.get(TIMESTAMP_HEADER), headers.get(NONCE_HEADER), headers.get(SIGNATURE_HEADER)
    )
    assert check.key is not None
    # Starlette keeps the body it read, so the endpoint still parses it afterwards; unsigned requests of
    # keys that do not require signing never read it here.
    body = await request.body() if needs_signature_check(check.key, signed) else b""
    return RequestFacts(
        ip=client_ip(request),
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        signed=signed,
        body=body,
        user_agent=headers.get("user-agent"),
        request_id=headers.get("x-request-id"),
    )


async def _cross_tenant(
    request: Request, container: Container, principal: Principal, target: str
) -> Principal:
    # The only way across tenants: a platform admin naming the tenant; every such request is on record.
    origin = request_origin(request)
    event = {
        "actor": principal.subject,
        "origin": origin,
        "details": {"route": request.url.path, "tenant": target},
    }
    try:
        acting = await container.auth.in_tenant(principal, target)
    except MemBankError:
        await container.security_events.arecord(
            "cross_tenant_access", outcome="denied", tenant_id=principal.tenant_id, target=target, **event
        )
        raise
    await container.security_events.arecord(
        "cross_tenant_access", outcome="ok", tenant_id=acting.tenant_id, target=target, **event
    )
    return acting


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _requires(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(scope):
            raise Forbidden(f"this principal lacks the {scope!r} permission", details={"permission": scope})
        return principal

    return check


MemoriesRead = Annotated[Principal, Depends(_requires("memories:read"))]
MemoriesWrite = Annotated[Principal, Depends(_requires("memories:write"))]
MemoriesDelete = Annotated[Principal, Depends(_requires("memories:delete"))]
UsersRead = Annotated[Principal, Depends(_requires("users:read"))]
UsersWrite = Annotated[Principal, Depends(_requires("users:write"))]
AdminRead = Annotated[Principal, Depends(_requires("admin:read"))]
AdminWrite = Annotated[Principal, Depends(_requires("admin:write"))]
AuditRead = Annotated[Principal, Depends(_requires("audit:read"))]
JobsRead = Annotated[Principal, Depends(_requires("jobs:read"))]
KeysRead = Annotated[Principal, Depends(_requires("keys:read"))]
KeysWrite = Annotated[Principal, Depends(_requires("keys:write"))]
KeysDelete = Annotated[Principal, Depends(_requires("keys:delete"))]


async def _reports_reader(principal: CurrentPrincipal) -> Principal:
    # Counts and usage are reports: auditors read them, as does anyone who may read the memories.
    if not (principal.can("audit:read") or principal.can("memories:read")):
        raise Forbidden(
            "this principal lacks the 'audit:read' or 'memories:read' permission",
            details={"permission": "audit:read"},
        )
    return principal


ReportsRead = Annotated[Principal, Depends(_reports_reader)]


def require_recent_mfa(principal: Principal, max_age_seconds: float, *, now: float | None = None) -> None:
    """403 STEP_UP_REQUIRED for a login session whose second factor was checked longer ago than the age
    (or never); API keys, SSO tokens and the system are not subject to it (0: off)."""
    if max_age_seconds <= 0 or principal.kind != "user" or principal.session_id is None:
        return
    checked = principal.mfa_at
    if checked is None or (now if now is not None else time.time()) - checked > max_age_seconds:
        raise StepUpRequired(
            "this needs a recent second-factor check: POST /api/v1/auth/step-up, then retry with its token",
            details={"max_age_seconds": max_age_seconds},
        )


async def _platform_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden("only a platform admin manages tenants", details={"permission": "platform-admin"})
    return principal


PlatformAdmin = Annotated[Principal, Depends(_platform_admin)]
