"""Durable jobs on SQLite and PostgreSQL: claim by lease, retries, per-sequence order, idempotency keys.

Two claimers never lease the same job. On SQLite every claim is a BEGIN IMMEDIATE transaction, so claimers
run one after the other. On PostgreSQL the claim locks the row it chose with FOR UPDATE SKIP LOCKED:
concurrent claimers pass over each other's rows instead of queueing, and a row that changed under a
claimer's snapshot is re-checked against the claim's conditions when it is locked.

Jobs sharing a `sequence_key` run one at a time in the order they were queued (`enqueue_seq`). That number
must follow the order in which the jobs become visible, or a claimer could see a later job of a sequence
before an earlier one commits and run both at once. SQLite's serialised writers give that for free (the
next number is MAX()+1 inside the write). On PostgreSQL, numbers come from a sequence drawn while the
enqueue holds a transaction-scoped advisory lock on each of its sequence keys, so a job's number is drawn
only after every earlier job of its key has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from membank.errors import LeaseLost
from membank.models import Job, JobItem, JobStatus, now_utc, to_epoch
from membank.storage.ports import Batch, JobProgress
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, job_from_row, loads
from membank.storage.sql.tables import batches, job_items, job_order, jobs
from membank.storage.sql.upsert import upsert_insert

_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value, JobStatus.FAILED.value)
_WAITING = (JobStatus.QUEUED.value, JobStatus.FAILED.value)
_PROCESSING = JobStatus.PROCESSING.value
# First key of our pg_advisory_xact_lock(int, int) calls, keeping them apart from any other user's.
_SEQUENCE_LOCK_SPACE = 0x6D62_6A71
_CLAIM_ORDER = (jobs.c.priority.desc(), jobs.c.run_after, jobs.c.created_at, jobs.c.enqueue_seq)
_ITEM_FIELDS = ("status", "memory_id", "reason", "error")

_earlier = jobs.alias("earlier")


def _status_in(column: ColumnElement[str], statuses: Sequence[str]) -> ColumnElement[bool]:
    """`column IN (...)` with the statuses written into the SQL, not bound: PostgreSQL's generic plan of a
    prepared claim (psycopg prepares a statement it runs often) can then still prove the predicate of the
    partial index jobs_runnable and walk it."""
    return column.in_([literal_column(f"'{status}'") for status in statuses])


def _runnable(now: Any) -> ColumnElement[bool]:
    due = or_(
        and_(_status_in(jobs.c.status, _WAITING), jobs.c.run_after <= now),
        and_(_status_in(jobs.c.status, [_PROCESSING]), jobs.c.lease_expires_at < now),
    )
    # A job waits while an earlier job of its sequence is unfinished (dead ones no longer hold it back).
    behind_earlier = exists().where(
        _earlier.c.sequence_key == jobs.c.sequence_key,
        _status_in(_earlier.c.status, _UNFINISHED),
        _earlier.c.enqueue_seq < jobs.c.enqueue_seq,
    )
    # `unfinished` is implied by `due`: spelled out, it lets both engines use the partial index jobs_runnable.
    unfinished = _status_in(jobs.c.status, _UNFINISHED)
    return and_(unfinished, due, or_(jobs.c.sequence_key.is_(None), ~behind_earlier))


def _held_by(job_id: Any, worker_id: Any) -> ColumnElement[bool]:
    return and_(jobs.c.id == job_id, jobs.c.lease_owner == worker_id, jobs.c.status == _PROCESSING)


# The statements of the worker loop, built once: building a statement costs more than running it on SQLite.
# LIMIT 1 written out too: PostgreSQL's generic plan of `LIMIT $1` guesses a tenth of the rows are wanted
# and then prefers sorting them all to walking jobs_runnable.
_CHOOSE = (
    select(jobs.c.id).where(_runnable(bindparam("now"))).order_by(*_CLAIM_ORDER).limit(literal_column("1"))
)
# Concurrent claimers pass over rows another claimer has locked instead of queueing behind it.
_CHOOSE_SKIP_LOCKED = _CHOOSE.with_for_update(skip_locked=True, of=jobs)
_LEASE = (
    update(jobs)
    .where(jobs.c.id == bindparam("chosen"))
    .values(
        status=_PROCESSING,
        lease_owner=bindparam("worker"),
        lease_expires_at=bindparam("until"),
        attempts=jobs.c.attempts + 1,
        started_at=func.coalesce(jobs.c.started_at, bindparam("now")),
        updated_at=bindparam("now"),
    )
    .returning(*jobs.c)
)
_HELD = _held_by(bindparam("job"), bindparam("worker"))
_EXTEND = update(jobs).where(_HELD).values(lease_expires_at=bindparam("until"), updated_at=bindparam("now"))
_COMPLETE = (
    update(jobs)
    .where(_HELD)
    .values(
        status=JobStatus.COMPLETED.value,
        result=bindparam("outcome"),
        error=None,
        lease_owner=None,
        lease_expires_at=None,
        progress_done=jobs.c.progress_total,
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_FAIL = (
    update(jobs)
    .where(_HELD)
    .values(
        status=bindparam("outcome"),
        error=bindparam("reason"),
        lease_owner=None,
        lease_expires_at=None,
        run_after=bindparam("retry_at"),
        finished_at=bindparam("finished"),
        updated_at=bindparam("now"),
    )
)
_SAVE_PROGRESS = (
    update(jobs)
    .where(_HELD)
    .values(progress_done=bindparam("done"), checkpoint=bindparam("saved"), updated_at=bindparam("now"))
)


def _new_job_values(job: Job, order: int) -> dict[str, Any]:
    return {
        "id": job.id,
        "tenant_id": job.tenant_id,
        "kind": job.kind,
        "status": job.status.value,
        "payload": dumps(job.payload),
        "attempts": 0,
        "max_attempts": job.max_attempts,
        "progress_done": 0,
        "progress_total": job.progress_total,
        "idempotency_key": job.idempotency_key,
        "run_after": to_epoch(job.run_after),
        "checkpoint": "{}",
        "actor": job.actor,
        "created_at": to_epoch(job.created_at),
        "updated_at": to_epoch(job.updated_at),
        "batch_id": job.batch_id,
        "priority": job.priority,
        "sequence_key": job.sequence_key,
        "enqueue_seq": order,
    }


def _draw_order(conn: Connection, queued: Sequence[Job]) -> list[int]:
    """Increasing `enqueue_seq` numbers for jobs about to be inserted in this transaction, in their order."""
    if conn.dialect.name == "postgresql":
        # Sorted, so that two enqueues sharing keys take the locks in one order (no deadlock).
        for key in sorted({job.sequence_key for job in queued if job.sequence_key is not None}):
            conn.execute(select(func.pg_advisory_xact_lock(_SEQUENCE_LOCK_SPACE, func.hashtext(key))))
        drawn = conn.execute(
            select(job_order.next_value()).select_from(func.generate_series(1, len(queued)))
        ).scalars()
        return sorted(drawn)
    last = conn.execute(select(func.coalesce(func.max(jobs.c.enqueue_seq), 0))).scalar_one()
    return list(range(last + 1, last + 1 + len(queued)))


def enqueue(conn: Connection, job: Job) -> tuple[Job, bool]:
    """Queue `job` in the caller's transaction (it becomes claimable when that commits); with an idempotency
    key the tenant already used, return that job and False instead."""
    statement = upsert_insert(conn, jobs).values(_new_job_values(job, _draw_order(conn, [job])[0]))
    # Atomic on both engines: a concurrent enqueue with the same key waits for ours, then inserts nothing.
    inserted = conn.execute(
        statement.on_conflict_do_nothing(
            index_elements=[jobs.c.tenant_id, jobs.c.idempotency_key],
            index_where=jobs.c.idempotency_key.is_not(None),
        ).returning(jobs.c.id)
    ).first()
    if inserted is not None:
        return job, True
    existing = conn.execute(
        select(jobs).where(jobs.c.tenant_id == job.tenant_id, jobs.c.idempotency_key == job.idempotency_key)
    ).mappings()
    return job_from_row(existing.one()), False


def save_progress(conn: Connection, progress: JobProgress) -> None:
    """Save a job's progress, checkpoint and item outcomes in the caller's transaction, only while the worker
    still holds the job's lease (else LeaseLost, and the caller's transaction must roll back)."""
    saved = conn.execute(
        _SAVE_PROGRESS,
        {
            "job": progress.job_id,
            "worker": progress.worker_id,
            "done": progress.done,
            "saved": dumps(progress.checkpoint),
            "now": to_epoch(now_utc()),
        },
    )
    if saved.rowcount != 1:
        raise LeaseLost(f"job {progress.job_id} is no longer leased by {progress.worker_id}")
    if not progress.items:
        return
    statement = upsert_insert(conn, job_items)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[job_items.c.job_id, job_items.c.position],
            set_={name: statement.excluded[name] for name in _ITEM_FIELDS},
        ),
        [
            {
                "job_id": progress.job_id,
                "position": item.index,
                "status": item.status,
                "memory_id": item.memory_id,
                "reason": item.reason,
                "error": item.error,
            }
            for item in progress.items
        ],
    )


class SqlJobRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def enqueue(self, job: Job) -> tuple[Job, bool]:
        with self._db.write() as conn:
            return enqueue(conn, job)

    @retry_conflicts
    def save_progress(self, progress: JobProgress) -> None:
        with self._db.write() as conn:
            save_progress(conn, progress)

    @retry_conflicts
    def create_batch(self, batch: Batch, jobs_of_batch: Sequence[Job]) -> None:
        with self._db.write() as conn:
            conn.execute(
                insert(batches).values(
                    id=batch.id,
                    tenant_id=batch.tenant_id,
                    user_id=batch.user_id,
                    job_count=batch.job_count,
                    options=dumps(batch.options),
                    actor=batch.actor,
                    created_at=batch.created_at,
                )
            )
            if jobs_of_batch:
                order = _draw_order(conn, jobs_of_batch)
                conn.execute(
                    insert(jobs),
                    [_new_job_values(job, n) for job, n in zip(jobs_of_batch, order, strict=True)],
                )

    @retry_reads
    def get_batch(self, tenant_id: str, batch_id: str) -> tuple[Batch, list[Job]] | None:
        with self._db.snapshot() as conn:
            row = (
                conn.execute(
                    select(batches).where(batches.c.tenant_id == tenant_id, batches.c.id == batch_id)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            rows = conn.execute(
                select(jobs)
                .where(jobs.c.tenant_id == tenant_id, jobs.c.batch_id == batch_id)
                .order_by(jobs.c.created_at, jobs.c.enqueue_seq)
            ).mappings()
            members = [job_from_row(job) for job in rows]
        batch = Batch(
            id=row["id"],
            tenant_id=row["tenant_id"],
            user_id=row["user_id"],
            job_count=row["job_count"],
            options=loads(row["options"]),
            actor=row["actor"],
            created_at=row["created_at"],
        )
        return batch, members

    @retry_reads
    def get(self, tenant_id: str, job_id: str) -> Job | None:
        with self._db.read() as conn:
            row = (
                conn.execute(select(jobs).where(jobs.c.tenant_id == tenant_id, jobs.c.id == job_id))
                .mappings()
                .first()
            )
        return job_from_row(row) if row is not None else None

    @retry_reads
    def items(self, tenant_id: str, job_id: str, *, limit: int, offset: int) -> tuple[list[JobItem], int]:
        with self._db.snapshot() as conn:
            owned = conn.execute(
                select(jobs.c.id).where(jobs.c.tenant_id == tenant_id, jobs.c.id == job_id)
            ).first()
            if owned is None:
                return [], 0
            rows = conn.execute(
                select(job_items)
                .where(job_items.c.job_id == job_id)
                .order_by(job_items.c.position)
                .limit(limit)
                .offset(offset)
            ).mappings()
            page = [
                JobItem(row["position"], row["status"], row["memory_id"], row["reason"], row["error"])
                for row in rows
            ]
            total = conn.execute(
                select(func.count()).select_from(job_items).where(job_items.c.job_id == job_id)
            ).scalar_one()
        return page, int(total)

    @retry_conflicts
    def claim(self, worker_id: str, now: float, lease_seconds: float) -> Job | None:
        # SQLite needs no row lock: its BEGIN IMMEDIATE already runs the claimers one at a time.
        choose = _CHOOSE_SKIP_LOCKED if self._db.is_postgres else _CHOOSE
        with self._db.write() as conn:
            job_id = conn.execute(choose, {"now": now}).scalar_one_or_none()
            if job_id is None:
                return None
            claimed = conn.execute(
                _LEASE, {"chosen": job_id, "worker": worker_id, "until": now + lease_seconds, "now": now}
            ).mappings()
            return job_from_row(claimed.one())

    @retry_conflicts
    def heartbeat(self, job_id: str, worker_id: str, now: float, lease_seconds: float) -> bool:
        with self._db.write() as conn:
            extended = conn.execute(
                _EXTEND, {"job": job_id, "worker": worker_id, "until": now + lease_seconds, "now": now}
            )
            return extended.rowcount == 1

    @retry_conflicts
    def complete(self, job_id: str, worker_id: str, result: dict[str, Any], now: float) -> bool:
        with self._db.write() as conn:
            completed = conn.execute(
                _COMPLETE, {"job": job_id, "worker": worker_id, "outcome": dumps(result), "now": now}
            )
            return completed.rowcount == 1

    @retry_conflicts
    def fail(self, job_id: str, worker_id: str, error: str, now: float, retry_at: float | None) -> bool:
        retried = retry_at is not None
        with self._db.write() as conn:
            failed = conn.execute(
                _FAIL,
                {
                    "job": job_id,
                    "worker": worker_id,
                    "outcome": JobStatus.FAILED.value if retried else JobStatus.DEAD.value,
                    "reason": error,
                    "retry_at": retry_at if retry_at is not None else now,
                    "finished": None if retried else now,
                    "now": now,
                },
            )
            return failed.rowcount == 1

    @retry_reads
    def counts(self) -> dict[str, int]:
        with self._db.read() as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
            return {status: int(count) for status, count in rows}
