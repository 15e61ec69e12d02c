"""Request dependencies, named for what they grant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from membank.api.rate_limits import STATE_KEY
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
    principal = await container.auth.authenticate(presented)
    # Limits are per key and tenant, so they are checked once the key is known; every answer carries them.
    check = await container.rate_limiter.check(principal)
    setattr(request.state, STATE_KEY, check.headers)
    if check.refusal is not None:
        raise check.refusal
    return principal


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
