"""A worker process of the concurrency tests: claims and completes jobs until none is left to claim.

A module of its own (not the test module) so that spawned processes import little."""

from __future__ import annotations

import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from membank.storage.sql.database import PoolSettings, SqlDatabase
from membank.storage.sql.jobs import SqlJobRepository

LEASE_SECONDS = 300.0


@dataclass(frozen=True)
class DrainReport:
    worker_id: str
    claimed: list[str]
    completed: list[str]
    started: float
    finished: float


def drain(url: str, worker_id: str, ready: Barrier, reports: Queue[DrainReport]) -> None:
    db = SqlDatabase(url, PoolSettings(size=1, max_overflow=0))
    jobs = SqlJobRepository(db)
    claimed: list[str] = []
    completed: list[str] = []
    ready.wait()
    started = time.time()
    while (job := jobs.claim(worker_id, time.time(), LEASE_SECONDS)) is not None:
        claimed.append(job.id)
        if jobs.complete(job.id, worker_id, {"by": worker_id}, time.time()):
            completed.append(job.id)
    reports.put(DrainReport(worker_id, claimed, completed, started, time.time()))
    db.close()
