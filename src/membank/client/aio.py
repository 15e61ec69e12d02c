"""`AsyncMemBank`: the asyncio client, the twin of `MemBank`."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from typing import Any

from membank.client.base import BaseClient, job_timeout, next_offset
from membank.client.models import Job, Memory
from membank.client.resources.jobs import Jobs
from membank.client.resources.memories import Memories
from membank.client.transport import AsyncTransport

__all__ = ["AsyncMemBank"]


class AsyncMemories(Memories[AsyncTransport]):
    async def iter(
        self,
        user_id: str,
        *,
        page_size: int = 100,
        sort_by: str | None = None,
        sort_order: str | None = None,
        memory_type: str | None = None,
        include_invalid: bool | None = None,
    ) -> AsyncIterator[Memory]:
        """Every memory of a user, page after page (`async for memory in client.memories.iter(...)`)."""
        offset: int | None = 0
        while offset is not None:
            page = await self.list(
                user_id,
                limit=page_size,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
                memory_type=memory_type,
                include_invalid=include_invalid,
            )
            for memory in page.memories:
                yield memory
            offset = next_offset(offset, len(page.memories), page.total)


class AsyncJobs(Jobs[AsyncTransport]):
    async def wait_for(self, job_id: str, *, timeout: float = 600.0, poll: float = 0.5) -> Job:
        """Poll a job every `poll` seconds until it is completed or dead; `MemBankTimeoutError` after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get(job_id)
            remaining = deadline - time.monotonic()
            if job.finished:
                return job
            if remaining <= 0:
                raise job_timeout(job, timeout)
            await asyncio.sleep(min(poll, remaining))


class AsyncMemBank(BaseClient[AsyncTransport]):
    """`MemBank`'s twin for asyncio: the same sub-clients and methods, each returning an awaitable
    (`await client.memories.get(...)`). Use it as `async with AsyncMemBank(...) as client` or `await
    client.close()`."""

    def _connect(self, base_url: str, **options: Any) -> AsyncTransport:
        return AsyncTransport(base_url, **options)

    @functools.cached_property
    def memories(self) -> AsyncMemories:
        return AsyncMemories(self._transport)

    @functools.cached_property
    def jobs(self) -> AsyncJobs:
        return AsyncJobs(self._transport)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._transport.close()

    async def __aenter__(self) -> AsyncMemBank:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
