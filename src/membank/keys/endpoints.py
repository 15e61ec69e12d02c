"""HTTP endpoints of API keys (`/api/v1/keys`) and service accounts (`/api/v1/service-accounts`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from membank.api.deps import AppContainer, KeysDelete, KeysRead, KeysWrite, request_origin, require_recent_mfa
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.errors import (
    Conflict,
    KeyNotFound,
    MemBankError,
    ServiceAccountNotFound,
    StepUpRequired,
    ValidationFailed,
)
from membank.keys.schemas import (
    IssuedKeyOut,
    KeyCreate,
    KeyList,
    KeyOut,
    KeyRotate,
    KeyUsageOut,
    ServiceAccountCreate,
    ServiceAccountList,
    ServiceAccountOut,
    key_out,
    service_account_out,
)
from membank.keys.service import MAX_USAGE_DAYS, KeySpec

router = APIRouter(prefix="/api/v1", tags=["keys"])

KeyId = Annotated[str, Path(max_length=64)]
AccountId = Annotated[str, Path(max_length=64)]
_KEY_ERRORS: tuple[type[MemBankError], ...] = (ValidationFailed, *AUTHENTICATED, KeyNotFound)


@router.post(
    "/keys",
    response_model=Envelope[IssuedKeyOut],
    status_code=201,
    responses=error_responses(*_KEY_ERRORS, StepUpRequired, *WITH_BODY),
)
async def create_key(
    body: KeyCreate, request: Request, principal: KeysWrite, container: AppContainer
) -> Response:
    """Create a key; its plaintext is in this answer only and never shown again. From a login session:
    after a recent second-factor check (403 STEP_UP_REQUIRED)."""
    require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    spec = KeySpec(**body.model_dump())
    key, plaintext = await asyncio.to_thread(
        container.key_admin.create, principal, spec, request_origin(request)
    )
    return ok({**key_out(key, requests=0), "key": plaintext}, status=201, message="store the key now")


@router.get("/keys", response_model=Envelope[KeyList], responses=error_responses(*AUTHENTICATED))
async def list_keys(principal: KeysRead, container: AppContainer) -> Response:
    """The tenant's keys with usage totals (never a secret or its hash)."""
    keys = await asyncio.to_thread(container.key_admin.list_keys, principal)
    return ok({"keys": [key_out(key, requests=total) for key, total in keys]})


@router.get("/keys/{key_id}", response_model=Envelope[KeyOut], responses=error_responses(*_KEY_ERRORS))
async def get_key(key_id: KeyId, principal: KeysRead, container: AppContainer) -> Response:
    """One key of the tenant, by id or prefix."""
    key, total = await asyncio.to_thread(container.key_admin.get, principal, key_id)
    return ok(key_out(key, requests=total))


@router.post(
    "/keys/{key_id}/rotate",
    response_model=Envelope[IssuedKeyOut],
    responses=error_responses(*_KEY_ERRORS, Conflict, *WITH_BODY),
)
async def rotate_key(
    key_id: KeyId, body: KeyRotate, request: Request, principal: KeysWrite, container: AppContainer
) -> Response:
    """A new secret for the key; the old one keeps working for `grace_seconds` (0: stops now)."""
    key, plaintext = await asyncio.to_thread(
        container.key_admin.rotate, principal, key_id, body.grace_seconds, request_origin(request)
    )
    return ok({**key_out(key, requests=0), "key": plaintext}, message="store the key now")


async def _revoke(key_id: str, request: Request, principal: KeysDelete, container: AppContainer) -> Response:
    key = await asyncio.to_thread(container.key_admin.revoke, principal, key_id, request_origin(request))
    total = (await asyncio.to_thread(container.key_admin.get, principal, key.id))[1]
    return ok(key_out(key, requests=total))


@router.post(
    "/keys/{key_id}/revoke",
    response_model=Envelope[KeyOut],
    responses=error_responses(*_KEY_ERRORS, Conflict),
)
async def revoke_key(
    key_id: KeyId, request: Request, principal: KeysDelete, container: AppContainer
) -> Response:
    """Revoke the key: refused from the next request on, on every instance."""
    return await _revoke(key_id, request, principal, container)


@router.delete(
    "/keys/{key_id}", response_model=Envelope[KeyOut], responses=error_responses(*_KEY_ERRORS, Conflict)
)
async def delete_key(
    key_id: KeyId, request: Request, principal: KeysDelete, container: AppContainer
) -> Response:
    """Revoke the key (the row stays, for its audit trail and usage)."""
    return await _revoke(key_id, request, principal, container)


@router.get(
    "/keys/{key_id}/usage", response_model=Envelope[KeyUsageOut], responses=error_responses(*_KEY_ERRORS)
)
async def key_usage(
    key_id: KeyId,
    principal: KeysRead,
    container: AppContainer,
    days: Annotated[int, Query(ge=1, le=MAX_USAGE_DAYS)] = 30,
) -> Response:
    """Requests per UTC day over the last `days` days."""
    usage = await asyncio.to_thread(container.key_admin.usage, principal, key_id, days)
    return ok({"key_id": key_id, "days": usage})


_ACCOUNT_ERRORS: tuple[type[MemBankError], ...] = (ValidationFailed, *AUTHENTICATED, ServiceAccountNotFound)


@router.post(
    "/service-accounts",
    response_model=Envelope[ServiceAccountOut],
    status_code=201,
    responses=error_responses(*_ACCOUNT_ERRORS, Conflict, *WITH_BODY),
)
async def create_service_account(
    body: ServiceAccountCreate, request: Request, principal: KeysWrite, container: AppContainer
) -> Response:
    """Create a service account (an owner of API keys)."""
    account = await asyncio.to_thread(
        container.key_admin.create_account, principal, body.name, body.description, request_origin(request)
    )
    return ok(service_account_out(account), status=201)


@router.get(
    "/service-accounts",
    response_model=Envelope[ServiceAccountList],
    responses=error_responses(*AUTHENTICATED),
)
async def list_service_accounts(principal: KeysWrite, container: AppContainer) -> Response:
    """The tenant's service accounts."""
    accounts = await asyncio.to_thread(container.key_admin.accounts, principal)
    return ok({"service_accounts": [service_account_out(account) for account in accounts]})


@router.get(
    "/service-accounts/{service_account_id}",
    response_model=Envelope[ServiceAccountOut],
    responses=error_responses(*_ACCOUNT_ERRORS),
)
async def get_service_account(
    service_account_id: AccountId, principal: KeysWrite, container: AppContainer
) -> Response:
    """One service account of the tenant."""
    account = await asyncio.to_thread(container.key_admin.account, principal, service_account_id)
    return ok(service_account_out(account))


@router.post(
    "/service-accounts/{service_account_id}/disable",
    response_model=Envelope[ServiceAccountOut],
    responses=error_responses(*_ACCOUNT_ERRORS),
)
async def disable_service_account(
    service_account_id: AccountId, request: Request, principal: KeysWrite, container: AppContainer
) -> Response:
    """Disable the account: its keys are refused (401) from the next request on."""
    account = await asyncio.to_thread(
        container.key_admin.disable_account, principal, service_account_id, request_origin(request)
    )
    return ok(service_account_out(account))
