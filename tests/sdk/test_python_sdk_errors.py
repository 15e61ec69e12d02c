"""Error answers of a real server become the SDK's exception of their code, with the request id; signing and
bearer auth work end to end."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from membank.client import (
    Forbidden,
    MemBankError,
    MemoryNotFound,
    NotFound,
    SignatureRequired,
    Unauthorized,
    ValidationFailed,
)
from tests.e2e.conftest import ADMIN_KEY
from tests.sdk.conftest import close, resolve, twin


async def test_unknown_memory_is_memory_not_found(client: Any) -> None:
    with pytest.raises(MemoryNotFound) as caught:
        await resolve(client.memories.get(uuid.uuid4().hex))
    error = caught.value
    assert isinstance(error, NotFound) and isinstance(error, MemBankError)
    assert (error.status, error.code) == (404, "MEMORY_NOT_FOUND")
    assert error.request_id and len(error.request_id) >= 16 and error.request_id in str(error)


async def test_invalid_field_is_a_validation_error_naming_it(client: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await resolve(client.memories.search("someone", "anything", limit=1000))
    error = caught.value
    assert (error.status, error.code) == (400, "VALIDATION_ERROR") and error.request_id
    assert [problem["field"] for problem in error.details["errors"]] == ["limit"]


async def test_wrong_key_is_unauthorized(kind: str, server: Any) -> None:
    stranger = twin(kind, server.url, api_key="mbk_000000000000_wrong", max_retries=0)
    try:
        with pytest.raises(Unauthorized) as caught:
            await resolve(stranger.memories.list("someone"))
        assert (caught.value.status, caught.value.code) == (401, "UNAUTHORIZED") and caught.value.request_id
        assert "wrong" not in str(caught.value)  # the key is never echoed back
    finally:
        await close(stranger)


async def test_missing_scope_is_forbidden(client: Any, kind: str, server: Any) -> None:
    issued = await resolve(client.keys.create(f"reader-{kind}", scopes=["memories:read"]))
    reader = twin(kind, server.url, api_key=issued.key)
    try:
        with pytest.raises(Forbidden) as caught:
            await resolve(reader.memories.create("someone", "a fact"))
        assert (caught.value.status, caught.value.code) == (403, "INSUFFICIENT_PERMISSIONS")
        assert caught.value.request_id
    finally:
        await close(reader)


async def test_a_key_that_requires_signatures_works_with_sign_requests(
    client: Any, kind: str, server: Any
) -> None:
    issued = await resolve(client.keys.create(f"signed-{kind}", require_signature=True))
    unsigned = twin(kind, server.url, api_key=issued.key)
    signed = twin(kind, server.url, api_key=issued.key, sign_requests=True)
    try:
        with pytest.raises(SignatureRequired):
            await resolve(unsigned.memories.search("signer", "tea"))
        created = await resolve(signed.memories.create("signer", "The signer drinks tea"))
        found = await resolve(signed.memories.search("signer", "what does the signer drink", limit=3))
        assert created.id in [hit.id for hit in found.memories]
    finally:
        await close(unsigned)
        await close(signed)


async def test_bearer_auth(kind: str, server: Any) -> None:
    bearer = twin(kind, server.url, token=ADMIN_KEY)
    try:
        me = await resolve(bearer.auth.me())
        assert me["kind"] == "api_key" and "admin:admin:all" in me["permissions"]
        assert "metrics" not in (await resolve(bearer.health.live()))
        assert "# TYPE" in await resolve(bearer.health.metrics())
    finally:
        await close(bearer)
