"""Request dependencies, named for what they grant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from membank.api.client_address import client_ip
from membank.api.rate_limits import STATE_KEY
from membank.auth.request_guard import RequestFacts, SignedParts, needs_signature_check
from membank.auth.request_signing import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from membank.auth.service import KeyCheck
from membank.bootstrap import Container
from membank.errors import Forbidden
from membank.models import Principal


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
    presented = x_api_key if x_api_key is not None else (bearer.credentials.strip() if bearer else None)
    check = await container.auth.authenticate_key(presented)
    if check.key is not None:
        await container.request_guard.verify(check, await _request_facts(request, check))
    principal = check.principal
    # Limits are per key and tenant, so they are checked once the key is known; every answer carries them.
    limits = await container.rate_limiter.check(principal)
    setattr(request.state, STATE_KEY, limits.headers)
    if limits.refusal is not None:
        raise limits.refusal
    return principal


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


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _requires(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(scope):
            raise Forbidden(f"this key lacks the {scope!r} scope")
        return principal

    return check


MemoriesRead = Annotated[Principal, Depends(_requires("memories:read"))]
MemoriesWrite = Annotated[Principal, Depends(_requires("memories:write"))]
JobsRead = Annotated[Principal, Depends(_requires("jobs:read"))]
KeysRead = Annotated[Principal, Depends(_requires("keys:read"))]
KeysWrite = Annotated[Principal, Depends(_requires("keys:write"))]
KeysDelete = Annotated[Principal, Depends(_requires("keys:delete"))]
