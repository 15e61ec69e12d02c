"""Idempotency-Key on POSTs: a retried request gets the first response instead of doing the work twice."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from membank.api.envelope import JSONResponse, ok
from membank.bootstrap import Container
from membank.errors import Conflict, ValidationFailed
from membank.models import Principal
from membank.storage.ports import StoredResponse

# A reservation whose request has not answered in this time is taken to be abandoned (its process died).
RESERVATION_SECONDS = 120.0
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")

# The header as an OpenAPI parameter (`openapi_extra` of the routes that honour it): it is read from the
# request inside `run_once`, not declared in the endpoint's signature.
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Send a retried request with the same key: it is done once, and the retry gets "
            "the first answer (`Idempotent-Replayed: true`); the same key with another body is a 409.",
            "schema": {"type": "string", "pattern": _KEY.pattern},
        }
    ]
}


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key header, validated."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise ValidationFailed.field("Idempotency-Key", "1 to 255 characters of letters, digits and ._:-")
    return key


async def request_hash(request: Request) -> str:
    return hashlib.sha256(
        request.method.encode() + request.url.path.encode() + await request.body()
    ).hexdigest()


async def run_once(
    container: Container,
    principal: Principal,
    request: Request,
    run: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any, bool]:
    """`run`'s status and data once per Idempotency-Key, and whether they are a replay: a later request with
    the same key and body gets the stored first answer, one with another body a 409 CONFLICT."""
    key = idempotency_key(request)
    if key is None:
        status, data = await run()
        return status, data, False
    digest = await request_hash(request)
    repo = container.idempotency
    # Reserve the key before running, so that two requests racing with one key cannot both run.
    stored = await asyncio.to_thread(
        repo.reserve, principal.tenant_id, key, digest, time.time(), RESERVATION_SECONDS
    )
    if stored is not None:
        if stored.request_hash != digest:
            raise Conflict(
                "Idempotency-Key was already used with a different request",
                details={"field": "Idempotency-Key"},
            )
        if stored.status == 0:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry later",
                details={"field": "Idempotency-Key"},
            )
        return stored.status, stored.body, True
    try:
        status, data = await run()
    except BaseException:
        await asyncio.to_thread(repo.release, principal.tenant_id, key)
        raise
    await asyncio.to_thread(
        repo.put, principal.tenant_id, key, StoredResponse(digest, status, data), time.time()
    )
    return status, data, False


async def replay_or_run(
    container: Container,
    principal: Principal,
    request: Request,
    run: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run `run` once per Idempotency-Key; replay its stored response for later requests with the same key."""
    status, data, replayed = await run_once(container, principal, request, run)
    return ok(data, status=status, headers={"Idempotent-Replayed": "true"} if replayed else None)
