"""Job claim throughput: worker processes drain a queue of tiny jobs from one system of record.

Used by `bench.stores`. Each of the processes (multiprocessing spawn) opens its own `SqlRecordStore` and runs
the real worker step (`membank.jobs.worker.Worker.run_once`: claim under a lease, run the handler, complete)
until nothing is runnable; the handler does nothing but note the job id. Double claims are counted twice
over: handler runs per job id across every process, and from the jobs table (every job must be completed
with exactly one attempt).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections import Counter
from collections.abc import Callable
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from membank.jobs.worker import TaskContext, Worker
from membank.models import Job, JobStatus, now_utc
from membank.observability.logging import configure_logging
from membank.storage.ports import Batch
from membank.storage.sql.store import SqlRecordStore
from membank.storage.sql.tables import jobs

KIND = "bench.noop"
TENANT = "bench"
_ENQUEUE_CHUNK = 1000
_READY_TIMEOUT_S = 60.0


def open_store(target: str) -> SqlRecordStore:
    """A store over a PostgreSQL URL or, for anything else, a SQLite file path."""
    if target.startswith("postgresql"):
        return SqlRecordStore.postgres(target)
    return SqlRecordStore.sqlite(Path(target))


def enqueue_tiny_jobs(store: SqlRecordStore, count: int) -> float:
    """Queue `count` no-op jobs (batches of 1000 in one transaction each); returns seconds taken."""
    started = time.perf_counter()
    for first in range(0, count, _ENQUEUE_CHUNK):
        size = min(_ENQUEUE_CHUNK, count - first)
        batch_id = str(uuid.uuid4())
        now = now_utc()
        queued = [
            Job(
                id=str(uuid.uuid4()),
                tenant_id=TENANT,
                kind=KIND,
                status=JobStatus.QUEUED,
                payload={"n": first + i},
                created_at=now,
                updated_at=now,
                run_after=now,
                progress_total=1,
                actor="bench",
                batch_id=batch_id,
            )
            for i in range(size)
        ]
        batch = Batch(batch_id, TENANT, "bench-user", size, {}, "bench", time.time())
        store.jobs.create_batch(batch, queued)
    return time.perf_counter() - started


def _drain(target: str, ready: Any, go: Event, results: Any) -> None:
    """One worker process: connect, say ready, wait for the start, claim and run jobs until none is left."""
    configure_logging("WARNING")
    store = open_store(target)
    store.ping()
    handled: list[str] = []

    async def note(job: Job, _context: TaskContext) -> dict[str, Any]:
        handled.append(job.id)
        return {}

    worker = Worker(store.jobs, {KIND: note}, lease_seconds=60.0, poll_seconds=0.05, backoff_seconds=1.0)

    async def drain() -> None:
        while await worker.run_once():
            pass

    ready.put(worker.id)
    go.wait()
    started, cpu0 = time.time(), time.process_time()
    asyncio.run(drain())
    finished = time.time()
    store.close()
    results.put(
        {
            "worker": worker.id,
            "handled": handled,
            "started": started,
            "finished": finished,
            "cpu_s": time.process_time() - cpu0,
        }
    )


def drain_with_processes(target: str, processes: int) -> dict[str, Any]:
    """Start `processes` workers together on `target` and wait until they have drained the queue."""
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    workers = [context.Process(target=_drain, args=(target, ready, go, results)) for _ in range(processes)]
    for process in workers:
        process.start()
    try:
        for _ in workers:
            ready.get(timeout=_READY_TIMEOUT_S)
        go.set()
        outcomes = [results.get(timeout=1800) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    elapsed = max(o["finished"] for o in outcomes) - min(o["started"] for o in outcomes)
    runs = Counter(job_id for o in outcomes for job_id in o["handled"])
    return {
        "elapsed_s": round(elapsed, 3),
        "handler_runs": sum(runs.values()),
        "jobs_run_twice_or_more": sum(1 for n in runs.values() if n > 1),
        "per_worker": sorted(len(o["handled"]) for o in outcomes),
        "worker_cpu_s": round(sum(o["cpu_s"] for o in outcomes), 1),
    }


def table_check(store: SqlRecordStore) -> dict[str, int]:
    """What the jobs table says: counts by status, and completed jobs that were claimed more than once."""
    with store.db.read() as conn:
        by_status = dict(conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all())
        attempts = dict(
            conn.execute(
                select(jobs.c.attempts, func.count()).where(jobs.c.kind == KIND).group_by(jobs.c.attempts)
            ).all()
        )
    return {
        "completed": int(by_status.get(JobStatus.COMPLETED.value, 0)),
        "not_completed": int(sum(n for s, n in by_status.items() if s != JobStatus.COMPLETED.value)),
        "claimed_once": int(attempts.get(1, 0)),
        "claimed_more_than_once": int(sum(n for a, n in attempts.items() if a > 1)),
    }


def run_claims(target: str, *, jobs_count: int, processes: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Queue `jobs_count` tiny jobs in a fresh store at `target`, drain them with `processes` workers."""
    store = open_store(target)
    try:
        store.migrate()
        enqueue_s = enqueue_tiny_jobs(store, jobs_count)
        log(f"queued {jobs_count} jobs in {enqueue_s:.1f} s; draining with {processes} processes")
        drained = drain_with_processes(target, processes)
        table = table_check(store)
    finally:
        store.close()
    double = max(drained["jobs_run_twice_or_more"], table["claimed_more_than_once"])
    result = {
        "jobs": jobs_count,
        "processes": processes,
        "enqueue_s": round(enqueue_s, 2),
        **drained,
        "jobs_per_s": round(jobs_count / drained["elapsed_s"], 1),
        "table": table,
        "double_claims": double,
        "all_completed_once": table["completed"] == jobs_count
        and table["claimed_once"] == jobs_count
        and drained["handler_runs"] == jobs_count,
    }
    log(f"drained: {result['jobs_per_s']} jobs/s, double claims {double}, per worker {drained['per_worker']}")
    return result
