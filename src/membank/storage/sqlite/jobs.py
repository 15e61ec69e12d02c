"""Durable jobs in SQLite: claim by lease, retries, idempotency keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from membank.models import Job, JobItem, to_epoch
from membank.storage.ports import Batch, JobProgress
from membank.storage.sqlite.database import SqliteDatabase
from membank.storage.sqlite.memories import save_progress
from membank.storage.sqlite.rows import dumps, job_from_row

_RUNNABLE = (
    "((status IN ('queued', 'failed') AND run_after <= :now) "
    "OR (status = 'processing' AND lease_expires_at < :now)) "
    # A job waits while an earlier job of its sequence is unfinished (dead ones no longer hold it back).
    "AND (sequence_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs AS earlier "
    "WHERE earlier.sequence_key = jobs.sequence_key AND earlier.status IN ('queued', 'processing', 'failed') "
    "AND (earlier.created_at < jobs.created_at OR (earlier.created_at = jobs.created_at AND earlier.rowid < jobs.rowid))))"
)


_INSERT_JOB = (
    "INSERT INTO jobs (id, tenant_id, kind, status, payload, attempts, max_attempts, progress_done, "
    "progress_total, idempotency_key, run_after, checkpoint, actor, created_at, updated_at, batch_id, priority, "
    "sequence_key) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?)"
)


def _job_params(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.tenant_id,
        job.kind,
        job.status.value,
        dumps(job.payload),
        job.max_attempts,
        job.progress_total,
        job.idempotency_key,
        to_epoch(job.run_after),
        job.actor,
        to_epoch(job.created_at),
        to_epoch(job.updated_at),
        job.batch_id,
        job.priority,
        job.sequence_key,
    )


class SqliteJobRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def enqueue(self, job: Job) -> tuple[Job, bool]:
        with self._db.write() as conn:
            if job.idempotency_key is not None:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE tenant_id = ? AND idempotency_key = ?",
                    (job.tenant_id, job.idempotency_key),
                ).fetchone()
                if row is not None:
                    return job_from_row(row), False
            conn.execute(
                _INSERT_JOB,
                _job_params(job),
            )
        return job, True

    def save_progress(self, progress: JobProgress) -> None:
        with self._db.write() as conn:
            save_progress(conn, progress)

    def create_batch(self, batch: Batch, jobs: Sequence[Job]) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    batch.id,
                    batch.tenant_id,
                    batch.user_id,
                    batch.job_count,
                    dumps(batch.options),
                    batch.actor,
                    batch.created_at,
                ),
            )
            conn.executemany(_INSERT_JOB, [_job_params(job) for job in jobs])

    def get_batch(self, tenant_id: str, batch_id: str) -> tuple[Batch, list[Job]] | None:
        conn = self._db.read()
        row = conn.execute(
            "SELECT * FROM batches WHERE tenant_id = ? AND id = ?", (tenant_id, batch_id)
        ).fetchone()
        if row is None:
            return None
        batch = Batch(
            id=row["id"],
            tenant_id=row["tenant_id"],
            user_id=row["user_id"],
            job_count=row["job_count"],
            options=orjson.loads(row["options"]),
            actor=row["actor"],
            created_at=row["created_at"],
        )
        jobs = conn.execute(
            "SELECT * FROM jobs WHERE tenant_id = ? AND batch_id = ? ORDER BY created_at, rowid",
            (tenant_id, batch_id),
        )
        return batch, [job_from_row(job) for job in jobs]

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        row = (
            self._db.read()
            .execute("SELECT * FROM jobs WHERE +tenant_id = ? AND id = ?", (tenant_id, job_id))
            .fetchone()
        )
        return job_from_row(row) if row else None

    def items(self, tenant_id: str, job_id: str, *, limit: int, offset: int) -> tuple[list[JobItem], int]:
        conn = self._db.read()
        if (
            conn.execute("SELECT 1 FROM jobs WHERE +tenant_id = ? AND id = ?", (tenant_id, job_id)).fetchone()
            is None
        ):
            return [], 0
        rows = conn.execute(
            "SELECT * FROM job_items WHERE job_id = ? ORDER BY position LIMIT ? OFFSET ?",
            (job_id, limit, offset),
        )
        items = [
            JobItem(row["position"], row["status"], row["memory_id"], row["reason"], row["error"])
            for row in rows
        ]
        (total,) = conn.execute("SELECT COUNT(*) FROM job_items WHERE job_id = ?", (job_id,)).fetchone()
        return items, int(total)

    def claim(self, worker_id: str, now: float, lease_seconds: float) -> Job | None:
        with self._db.write() as conn:
            row = conn.execute(
                f"SELECT id FROM jobs WHERE {_RUNNABLE} ORDER BY priority DESC, run_after, created_at LIMIT 1",
                {"now": now},
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'processing', lease_owner = ?, lease_expires_at = ?, "
                "attempts = attempts + 1, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?",
                (worker_id, now + lease_seconds, now, now, row["id"]),
            )
            claimed = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return job_from_row(claimed)

    def heartbeat(self, job_id: str, worker_id: str, now: float, lease_seconds: float) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET lease_expires_at = ?, updated_at = ? "
                "WHERE id = ? AND lease_owner = ? AND status = 'processing'",
                (now + lease_seconds, now, job_id, worker_id),
            )
            return cursor.rowcount == 1

    def complete(self, job_id: str, worker_id: str, result: dict[str, Any], now: float) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = 'completed', result = ?, error = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL, progress_done = progress_total, finished_at = ?, updated_at = ? "
                "WHERE id = ? AND lease_owner = ? AND status = 'processing'",
                (dumps(result), now, now, job_id, worker_id),
            )
            return cursor.rowcount == 1

    def fail(self, job_id: str, worker_id: str, error: str, now: float, retry_at: float | None) -> bool:
        status = "failed" if retry_at is not None else "dead"
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL, "
                "run_after = ?, finished_at = ?, updated_at = ? "
                "WHERE id = ? AND lease_owner = ? AND status = 'processing'",
                (
                    status,
                    error,
                    retry_at if retry_at is not None else now,
                    None if retry_at else now,
                    now,
                    job_id,
                    worker_id,
                ),
            )
            return cursor.rowcount == 1

    def counts(self) -> dict[str, int]:
        rows = self._db.read().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return {row[0]: row[1] for row in rows}
