"""The worker loop: claim a job under a lease, keep the lease alive, run its handler, retry with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from opentelemetry.trace import SpanKind, Status, StatusCode

from membank.backoff import OutageBackoff
from membank.errors import BackendUnavailable, LeaseLost
from membank.models import Job
from membank.observability.tracing import context_of, span
from membank.observability.usage import UsageMeter, usage_scope
from membank.storage.ports import JobRepository

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class TaskContext:
    """What a handler gets besides its job: who it runs as, and how to report."""

    worker_id: str
    lease_seconds: float
    jobs: JobRepository

    async def heartbeat(self, job: Job) -> None:
        """Extend the lease now (handlers call it between chunks of work)."""
        held = await asyncio.to_thread(
            self.jobs.heartbeat, job.id, self.worker_id, time.time(), self.lease_seconds
        )
        if not held:
            raise LeaseLost(f"job {job.id} lease lost by {self.worker_id}")

    async def give_way(self, job: Job) -> None:
        """Between chunks of a long job, after its progress committed: when another tenant has a runnable
        job, raise GaveWay so the worker puts this one back in the queue (it resumes from its progress)
        and the fair claim serves the other tenant first."""
        if await asyncio.to_thread(self.jobs.others_waiting, job.tenant_id, time.time()):
            raise GaveWay(f"job {job.id} gave way to another tenant's job")


class GaveWay(Exception):
    """Raised by a handler (through `TaskContext.give_way`) to put its job back in the queue."""


Handler = Callable[[Job, TaskContext], Awaitable[dict[str, Any]]]


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc only). A big job leaves hundreds of MB freed but still
    held by the allocator; without this the process keeps its peak size for good."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class JobSignal:
    """In-process wake-ups: idle workers when a job is queued, waiting requests when a job ends, so neither
    waits for its next poll. Other processes still find jobs and their ends by polling."""

    def __init__(self) -> None:
        self._queued: set[asyncio.Event] = set()
        self._ended: set[asyncio.Event] = set()

    def subscribe(self, *, ended: bool = False) -> asyncio.Event:
        event = asyncio.Event()
        (self._ended if ended else self._queued).add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._queued.discard(event)
        self._ended.discard(event)

    def notify(self) -> None:
        """A job was queued."""
        for event in self._queued:
            event.set()

    def notify_ended(self) -> None:
        """A job completed, failed or died."""
        for event in self._ended:
            event.set()


class UnknownJobKind(Exception):
    pass


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        jobs: JobRepository,
        handlers: Mapping[str, Handler],
        *,
        lease_seconds: float,
        poll_seconds: float,
        backoff_seconds: float,
        on_progress: Callable[[], None] | None = None,
        signal: JobSignal | None = None,
        usage: UsageMeter | None = None,
    ) -> None:
        self.id = new_worker_id()
        self._usage = usage
        self._signal = signal
        self._jobs = jobs
        self._handlers = handlers
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._backoff = backoff_seconds
        self._on_progress = on_progress
        self._context = TaskContext(self.id, lease_seconds, jobs)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until `stop` is set."""
        log.info("worker_started", worker_id=self.id)
        wake = self._signal.subscribe() if self._signal is not None else asyncio.Event()
        outage = OutageBackoff(self._poll)
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    ran = await self.run_once()
                except BackendUnavailable as exc:  # an outage is expected: one line per wait, no traceback
                    wait = outage.failed()
                    log.error("worker_store_unavailable", worker_id=self.id, error=exc.message, retry_in=wait)
                    await first_of(stop, timeout=wait)
                    continue
                except Exception:
                    log.exception("worker_loop_error", worker_id=self.id)
                    ran = False
                if outage.succeeded():
                    log.info("worker_store_recovered", worker_id=self.id)
                if not ran:
                    await first_of(stop, wake, timeout=self._poll)
        finally:
            if self._signal is not None:
                self._signal.unsubscribe(wake)
        log.info("worker_stopped", worker_id=self.id)

    async def run_once(self) -> bool:
        """Claim one job and run it; False when nothing was runnable."""
        job = await asyncio.to_thread(self._jobs.claim, self.id, time.time(), self._lease)
        if job is None:
            return False
        await self._process(job)
        return True

    async def _process(self, job: Job) -> None:
        """Runs the job inside a span that continues the trace of the request that queued it."""
        attributes: dict[str, str | int] = {
            "membank.job.id": job.id,
            "membank.job.kind": job.kind,
            "membank.job.attempt": job.attempts,
            "membank.tenant": job.tenant_id,
        }
        with span(
            f"job {job.kind}",
            kind=SpanKind.CONSUMER,
            parent=context_of(job.trace_parent),
            attributes=attributes,
        ) as current:
            with usage_scope(self._usage, job.tenant_id) if self._usage else contextlib.nullcontext():
                outcome = await self._run(job)
            current.set_attribute("membank.job.outcome", outcome)
            if outcome == "failed":
                current.set_status(Status(StatusCode.ERROR))

    async def _run(self, job: Job) -> str:
        """The job run; how it ended: completed, failed, lease_lost or gave_way."""
        log.info("job_started", job_id=job.id, kind=job.kind, attempt=job.attempts)
        keeper = asyncio.create_task(self._keep_lease(job))
        try:
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise UnknownJobKind(f"no handler for job kind {job.kind!r}")
            result = await handler(job, self._context)
        except LeaseLost:
            log.warning("job_lease_lost", job_id=job.id, worker_id=self.id)
            return "lease_lost"
        except GaveWay:
            await asyncio.to_thread(self._jobs.release, job.id, self.id, time.time())
            log.info("job_gave_way", job_id=job.id, kind=job.kind, done=job.progress_done)
            return "gave_way"
        except Exception as exc:
            await self._failed(job, exc)
            return "failed"
        finally:
            keeper.cancel()
            if self._on_progress is not None:
                self._on_progress()
            await asyncio.to_thread(release_free_heap)
        await asyncio.to_thread(self._jobs.complete, job.id, self.id, result, time.time())
        self._ended()
        log.info("job_completed", job_id=job.id, kind=job.kind)
        return "completed"

    def _ended(self) -> None:
        if self._signal is not None:
            self._signal.notify_ended()

    async def _failed(self, job: Job, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        final = job.attempts >= job.max_attempts or isinstance(exc, UnknownJobKind)
        retry_at = None if final else time.time() + self._backoff * 2 ** (job.attempts - 1)
        await asyncio.to_thread(self._jobs.fail, job.id, self.id, error, time.time(), retry_at)
        self._ended()
        log.warning(
            "job_failed",
            job_id=job.id,
            kind=job.kind,
            attempt=job.attempts,
            dead=final,
            error=type(exc).__name__,
        )

    async def _keep_lease(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._jobs.heartbeat, job.id, self.id, time.time(), self._lease)


async def first_of(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of the events is set, or after `timeout` seconds."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def finish_within(tasks: list[asyncio.Task[None]], grace_seconds: float) -> None:
    """Wait for background tasks that were told to stop; cancel those still running after the grace period.
    A job cancelled this way loses nothing: its lease expires and the next worker resumes it from its last
    committed chunk."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=grace_seconds)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
