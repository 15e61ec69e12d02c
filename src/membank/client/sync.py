"""`MemBank`: the synchronous client."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from membank.client.base import BaseClient, job_timeout, next_offset
from membank.client.models import Job, Memory
from membank.client.resources.jobs import Jobs
from membank.client.resources.memories import Memories
from membank.client.transport import SyncTransport

__all__ = ["MemBank"]


class SyncMemories(Memories[SyncTransport]):
    def iter(
        self,
        user_id: str,
        *,
        page_size: int = 100,
        sort_by: str | None = None,
        sort_order: str | None = None,
        memory_type: str | None = None,
        include_invalid: bool | None = None,
    ) -> Iterator[Memory]:
        """Every memory of a user, page after page (`page_size` per request)."""
        offset: int | None = 0
        while offset is not None:
            page = self.list(
                user_id,
                limit=page_size,
                offset=offset,
                sort_by=sort_by,
                sort_order=sort_order,
                memory_type=memory_type,
                include_invalid=include_invalid,
            )
            yield from page.memories
            offset = next_offset(offset, len(page.memories), page.total)


class SyncJobs(Jobs[SyncTransport]):
    def wait_for(self, job_id: str, *, timeout: float = 600.0, poll: float = 0.5) -> Job:
        """Poll a job every `poll` seconds until it is completed or dead; `MemBankTimeoutError` after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            remaining = deadline - time.monotonic()
            if job.finished:
                return job
            if remaining <= 0:
                raise job_timeout(job, timeout)
            time.sleep(min(poll, remaining))


class MemBank(BaseClient[SyncTransport]):
    """The synchronous client (options: see `BaseClient`). Use it as `with MemBank(...) as client` or call
    `close()`: it keeps a pool of connections."""

    def _connect(self, base_url: str, **options: Any) -> SyncTransport:
        return SyncTransport(base_url, **options)

    @functools.cached_property
    def memories(self) -> SyncMemories:
        return SyncMemories(self._transport)

    @functools.cached_property
    def jobs(self) -> SyncJobs:
        return SyncJobs(self._transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._transport.close()

    def __enter__(self) -> MemBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
