"""Request dependencies, named for what they grant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from membank.bootstrap import Container
from membank.errors import Forbidden
from membank.models import Principal


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


AppContainer = Annotated[Container, Depends(get_container)]


async def current_principal(
    container: AppContainer,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    presented = x_api_key
    if presented is None and authorization is not None:
        scheme, _, token = authorization.partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else None
    return await container.auth.authenticate(presented)


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
