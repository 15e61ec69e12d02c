"""HTTP endpoints of login sessions: who am I, refresh, logout, own sessions, an admin's revoke-all; the JWKS."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from membank.api.deps import AppContainer, CurrentPrincipal, request_origin, unauthenticated_route
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.auth.schemas import (
    JwksOut,
    LoginSessionOut,
    LoginSessionsOut,
    RefreshIn,
    RevokedOut,
    TokensOut,
    WhoAmIOut,
)
from membank.auth.sessions import IssuedTokens, SessionView
from membank.errors import (
    BackendUnavailable,
    Forbidden,
    LoginSessionNotFound,
    RateLimitExceeded,
    Unauthorized,
    ValidationFailed,
)

router = APIRouter(prefix="/api/v1", tags=["auth"])
well_known = APIRouter(tags=["auth"])

SessionId = Annotated[str, Path(max_length=64)]
AccountId = Annotated[str, Path(max_length=64)]
# Verifiers may keep the key set this long; a token with a kid they do not know makes them fetch it anew.
_JWKS_MAX_AGE_SECONDS = 300


def _tokens_out(issued: IssuedTokens) -> dict[str, object]:
    return TokensOut(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
        session_id=issued.session_id,
    ).model_dump()


def _session_out(view: SessionView) -> LoginSessionOut:
    s = view.session
    return LoginSessionOut(
        id=s.id,
        device=s.device,
        ip=s.ip,
        user_agent=s.user_agent,
        created_at=s.created_at,
        last_seen_at=s.last_seen_at,
        expires_at=s.expires_at,
        mfa=s.mfa_at is not None,
        current=view.current,
    )


@router.post(
    "/auth/refresh",
    response_model=Envelope[TokensOut],
    responses=error_responses(
        ValidationFailed, Unauthorized, RateLimitExceeded, BackendUnavailable, *WITH_BODY
    ),
    dependencies=[Depends(unauthenticated_route)],
)
async def refresh(body: RefreshIn, request: Request, container: AppContainer) -> Response:
    """New tokens for a refresh token (which is used up: presenting it again revokes the session)."""
    issued = await container.sessions.refresh(body.refresh_token, request_origin(request))
    return ok(_tokens_out(issued), headers={"Cache-Control": "no-store"})


@router.get("/auth/me", response_model=Envelope[WhoAmIOut], responses=error_responses(*AUTHENTICATED))
async def who_am_i(principal: CurrentPrincipal) -> Response:
    """The caller's identity: tenant, subject, roles, the permissions they grant and the end users bound."""
    out = WhoAmIOut(
        tenant_id=principal.tenant_id,
        subject=principal.subject,
        kind=principal.kind,
        roles=sorted(principal.roles),
        permissions=sorted(str(permission) for permission in principal.permissions),
        user_ids=sorted(principal.user_ids) if principal.user_ids is not None else None,
        team_ids=sorted(principal.team_ids),
        session_id=principal.session_id,
        mfa_at=principal.mfa_at,
    )
    return ok(out.model_dump(), headers={"Cache-Control": "no-store"})


@router.post("/auth/logout", response_model=Envelope[RevokedOut], responses=error_responses(*AUTHENTICATED))
async def logout(principal: CurrentPrincipal, request: Request, container: AppContainer) -> Response:
    """End the session of this request's access token."""
    await container.sessions.logout(principal, request_origin(request))
    return ok(RevokedOut(revoked=[principal.session_id or ""]).model_dump(), message="logged out")


@router.get(
    "/auth/sessions", response_model=Envelope[LoginSessionsOut], responses=error_responses(*AUTHENTICATED)
)
async def list_sessions(principal: CurrentPrincipal, container: AppContainer) -> Response:
    """The caller's own live sessions, newest first."""
    views = await container.sessions.list_sessions(principal)
    return ok(LoginSessionsOut(sessions=[_session_out(v) for v in views]).model_dump())


@router.delete(
    "/auth/sessions/{login_session_id}",
    response_model=Envelope[RevokedOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, LoginSessionNotFound),
)
async def revoke_session(
    login_session_id: SessionId, principal: CurrentPrincipal, request: Request, container: AppContainer
) -> Response:
    """Revoke one of the caller's own sessions."""
    await container.sessions.revoke(principal, login_session_id, request_origin(request))
    return ok(RevokedOut(revoked=[login_session_id]).model_dump())


@router.delete(
    "/accounts/{account_id}/sessions",
    response_model=Envelope[RevokedOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def revoke_account_sessions(
    account_id: AccountId, principal: CurrentPrincipal, request: Request, container: AppContainer
) -> Response:
    """Revoke every session of an account of the tenant (tenant admins: users:write on all)."""
    if principal.reach("users", "write") != "all":
        raise Forbidden("revoking an account's sessions needs users:write on the whole tenant")
    revoked = await container.sessions.revoke_all(
        principal.tenant_id,
        account_id,
        "revoked_by_admin",
        actor=principal.subject,
        origin=request_origin(request),
    )
    return ok(RevokedOut(revoked=revoked).model_dump())


@well_known.get("/.well-known/jwks.json", response_model=JwksOut)
async def jwks(container: AppContainer) -> Response:
    """The public keys that verify access tokens (no authentication: they are public)."""
    key_set = await asyncio.to_thread(container.signing_keys.jwks)
    return JSONResponse(key_set, headers={"Cache-Control": f"public, max-age={_JWKS_MAX_AGE_SECONDS}"})
