"""Retries against real servers: a real 429 is retried after its Retry-After, a retried create with its
Idempotency-Key is done once, timeouts and unreachable servers raise clear errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from membank.client import (
    Job,
    MemBankConnectionError,
    MemBankTimeoutError,
    RateLimitExceeded,
    RetryPolicy,
)
from tests.e2e.conftest import ADMIN_KEY, Server
from tests.sdk.conftest import close, resolve, server_env, twin
from tests.support.processes import free_port


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that lets each key make one request per second (no burst)."""
    root = tmp_path_factory.mktemp("sdk-limited")
    env = server_env(root / "data", MEMBANK_RATE_LIMIT_PER_MINUTE="60", MEMBANK_RATE_LIMIT_BURST="1")
    started = Server(env, root / "serve.log")
    yield started
    started.stop()


async def test_a_real_429_is_retried_after_its_retry_after(kind: str, limited_server: Server) -> None:
    impatient = twin(kind, limited_server.url, api_key=ADMIN_KEY, max_retries=0)
    patient = twin(kind, limited_server.url, api_key=ADMIN_KEY)
    try:
        refused = None
        for _ in range(3):  # the first request may find the key's allowance unspent
            try:
                await resolve(impatient.memories.list("someone"))
            except RateLimitExceeded as exc:
                refused = exc
                break
        assert refused is not None, "the limit of one request per second never refused"
        assert refused.status == 429 and refused.retry_after is not None and refused.retry_after >= 1
        assert refused.request_id

        started = time.monotonic()
        page = await resolve(patient.memories.list("someone"))
        waited = time.monotonic() - started
        assert page.total == 0
        assert waited >= 0.9 * refused.retry_after, waited  # it waited as the server asked, then succeeded
    finally:
        await close(impatient)
        await close(patient)


async def test_a_create_retried_after_a_timeout_is_done_once(kind: str, server: Server) -> None:
    """The first attempt times out while the server still works on it; the retry carries the same
    Idempotency-Key, so the server answers it with the first request's job instead of importing again."""
    user = f"idem-{uuid.uuid4().hex[:10]}"
    # Texts of their own: embeddings of texts seen before come from the cache, too fast to time out.
    memories = [{"user_id": user, "content": f"Imported fact {i} of {user}"} for i in range(300)]
    retrying = twin(
        kind, server.url, api_key=ADMIN_KEY, timeout=0.2, retry=RetryPolicy(max_retries=8, backoff=0.5)
    )
    admin = twin(kind, server.url, api_key=ADMIN_KEY)
    try:
        started = time.monotonic()
        job = await resolve(retrying.memories.batch(memories, wait=True))
        assert time.monotonic() - started > 0.2  # at least one attempt timed out
        assert isinstance(job, Job) and job.status == "completed"
        assert job.result is not None and job.result["created"] == 300
        assert (await resolve(admin.memories.list(user, limit=1))).total == 300
    finally:
        await close(retrying)
        await close(admin)


async def test_the_same_idempotency_key_creates_one_memory(client: Any) -> None:
    user = f"idem-{uuid.uuid4().hex[:10]}"
    key = uuid.uuid4().hex
    first = await resolve(client.memories.create(user, "The user owns a red bike", idempotency_key=key))
    again = await resolve(client.memories.create(user, "The user owns a red bike", idempotency_key=key))
    assert first.id == again.id
    assert (await resolve(client.memories.list(user))).total == 1


async def test_a_timeout_raises_a_clear_error(kind: str, server: Server) -> None:
    hasty = twin(kind, server.url, api_key=ADMIN_KEY, timeout=0.05, max_retries=0)
    run = uuid.uuid4().hex
    memories = [{"user_id": "hasty", "content": f"Fact {i} of slow import {run}"} for i in range(200)]
    try:
        with pytest.raises(MemBankTimeoutError) as caught:
            await resolve(hasty.memories.batch(memories, wait=True))
        message = str(caught.value)
        assert "did not answer POST /api/v1/memories/batch within 0.05 s" in message
        assert server.url in message and caught.value.request_sent
    finally:
        await close(hasty)


async def test_an_unreachable_server_is_retried_then_reported(kind: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    nowhere = twin(kind, url, api_key="k", retry=RetryPolicy(max_retries=2, backoff=0.1))
    try:
        started = time.monotonic()
        with pytest.raises(MemBankConnectionError) as caught:
            await resolve(nowhere.memories.create("someone", "a fact"))
        assert time.monotonic() - started >= 0.1  # two retries, each after a back-off of at least 0.05 s
        assert not caught.value.request_sent and caught.value.status is None
        assert f"cannot reach the MemBank server at {url}" in str(caught.value)
    finally:
        await close(nowhere)
