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

Claims are fair across tenants: a claim serves the tenant with unfinished jobs whose turn came least
recently (`job_tenants.served_seq`), taking its first runnable job in the claim order (priority, due time,
creation, queue order), and gives that tenant the next turn. So one tenant's thousands of queued jobs delay
another tenant's job by at most the jobs already running; a long job (a batch import) checks between its
chunks whether another tenant has a runnable job (`others_waiting`) and, if so, goes back to the queue with
its progress (`release`), so the wait is one chunk, not one whole job. On PostgreSQL the claim is one statement: a
LATERAL pick of each tenant's first job under FOR UPDATE SKIP LOCKED, over the tenants in turn order; on
SQLite a correlated subquery does the same (its claimers are serialised anyway).

Each tenant's unfinished jobs (queued, processing, failed) are counted in `job_tenants.unfinished`, changed
in the transaction that queues, completes or kills one, so a bound on them (`max_unfinished`) holds exactly
under concurrent enqueues: beyond it the enqueue is refused with JobQueueFull and stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)

from membank.errors import JobQueueFull, LeaseLost
from membank.models import Job, JobItem, JobStatus, now_utc, to_epoch
from membank.storage.ports import Batch, JobProgress, JobQueueStats
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, job_from_row, loads
from membank.storage.sql.tables import batches, job_items, job_order, job_tenants, job_turns, jobs
from membank.storage.sql.upsert import upsert_insert

_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value, JobStatus.FAILED.value)
_WAITING = (JobStatus.QUEUED.value, JobStatus.FAILED.value)
_PROCESSING = JobStatus.PROCESSING.value
# First key of our pg_advisory_xact_lock(int, int) calls, keeping them apart from any other user's.
_SEQUENCE_LOCK_SPACE = 0x6D62_6A71
_CLAIM_ORDER = (jobs.c.priority.desc(), jobs.c.run_after, jobs.c.created_at, jobs.c.enqueue_seq)
_ITEM_FIELDS = ("status", "memory_id", "reason", "error")
# What a refused enqueue suggests as Retry-After: about the time a worker needs to make room.
_QUEUE_FULL_RETRY_SECONDS = 5

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


def _first_runnable_of(tenant: ColumnElement[str]) -> Any:
    # LIMIT 1 written out: PostgreSQL's generic plan of `LIMIT $1` guesses a tenth of the rows are wanted and
    # then prefers sorting them all to walking jobs_tenant_runnable.
    return (
        select(jobs.c.id)
        .where(jobs.c.tenant_id == tenant, _runnable(bindparam("now")))
        .order_by(*_CLAIM_ORDER)
        .limit(literal_column("1"))
    )


# 0 written into the SQL, not bound, for the same reason as the statuses: the partial index job_tenants_turn.
_WAITING_TENANTS = job_tenants.c.unfinished > literal_column("0")
_TURN_ORDER = (job_tenants.c.served_seq, job_tenants.c.tenant_id)

# The statements of the worker loop, built once: building a statement costs more than running it on SQLite.
# PostgreSQL: concurrent claimers pass over job rows another claimer has locked instead of queueing behind
# them, then move on to the next tenant when a tenant's runnable jobs are all taken.
_first_job = (
    _first_runnable_of(job_tenants.c.tenant_id)
    .with_for_update(skip_locked=True, of=jobs)
    .lateral("first_job")
)
_CHOOSE_SKIP_LOCKED = (
    select(_first_job.c.id, job_tenants.c.tenant_id)
    .select_from(job_tenants.join(_first_job, true()))
    .where(_WAITING_TENANTS)
    .order_by(*_TURN_ORDER)
    .limit(literal_column("1"))
)
# SQLite has no LATERAL: the same pick as a correlated subquery, evaluated tenant by tenant in turn order.
_turns = (
    select(
        job_tenants.c.tenant_id,
        job_tenants.c.served_seq,
        _first_runnable_of(job_tenants.c.tenant_id).scalar_subquery().label("id"),
    )
    .where(_WAITING_TENANTS)
    .subquery("turns")
)
_CHOOSE = (
    select(_turns.c.id, _turns.c.tenant_id)
    .where(_turns.c.id.is_not(None))
    .order_by(_turns.c.served_seq, _turns.c.tenant_id)
    .limit(literal_column("1"))
)
# Whether another tenant has a runnable job: a long job gives way at its next chunk (see `release`).
_OTHERS_WAITING = (
    select(job_tenants.c.tenant_id)
    .where(
        job_tenants.c.tenant_id != bindparam("tenant"),
        _WAITING_TENANTS,
        _first_runnable_of(job_tenants.c.tenant_id).exists(),
    )
    .limit(literal_column("1"))
)
_LAST_TURN = select(func.coalesce(func.max(job_tenants.c.served_seq), 0))
_NEXT_TURN = {
    "postgresql": job_turns.next_value(),
    "sqlite": _LAST_TURN.scalar_subquery() + 1,
}
_GIVE_TURN = {
    dialect: update(job_tenants).where(job_tenants.c.tenant_id == bindparam("tenant")).values(served_seq=turn)
    for dialect, turn in _NEXT_TURN.items()
}
# A completed or dead job leaves its tenant's count of unfinished jobs.
_FINISHED_ONE = (
    update(job_tenants)
    .where(job_tenants.c.tenant_id == bindparam("tenant"))
    .values(
        unfinished=case((job_tenants.c.unfinished > 0, job_tenants.c.unfinished - 1), else_=0),
    )
)


def _last_finished_before(status: str) -> ColumnElement[float]:
    """When the latest earlier job of the row's sequence with this status finished: jobs of a sequence run one
    after another, so that job finished last. Per status, so that each is one descent of jobs_sequence."""
    return (
        select(_earlier.c.finished_at)
        .where(
            _earlier.c.sequence_key == jobs.c.sequence_key,
            _earlier.c.status == literal_column(f"'{status}'"),
            _earlier.c.enqueue_seq < jobs.c.enqueue_seq,
        )
        .order_by(_earlier.c.enqueue_seq.desc())
        .limit(literal_column("1"))
        .scalar_subquery()
    )


def _not_before(moment: ColumnElement[Any], floor: ColumnElement[float]) -> ColumnElement[Any]:
    return case((floor > moment, floor), else_=moment)


# A claimer reads its clock before it waits for the write lock, so the job it then picks may be the successor
# of one that finished meanwhile: its start is never stamped before its predecessor's end.
_STARTED_NOW = _not_before(
    _not_before(bindparam("now"), _last_finished_before(JobStatus.COMPLETED.value)),
    _last_finished_before(JobStatus.DEAD.value),
)
_LEASE = (
    update(jobs)
    .where(jobs.c.id == bindparam("chosen"))
    .values(
        status=_PROCESSING,
        lease_owner=bindparam("worker"),
        lease_expires_at=bindparam("until"),
        attempts=jobs.c.attempts + 1,
        started_at=func.coalesce(jobs.c.started_at, _STARTED_NOW),
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
    .returning(jobs.c.tenant_id)
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
    .returning(jobs.c.tenant_id)
)
# A job that gives way goes back to the queue as it is (progress and checkpoint kept, due now); the claim
# that ran it does not count as an attempt.
_RELEASE = (
    update(jobs)
    .where(_HELD)
    .values(
        status=JobStatus.QUEUED.value,
        lease_owner=None,
        lease_expires_at=None,
        attempts=jobs.c.attempts - 1,
        run_after=bindparam("now"),
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
        "trace_parent": job.trace_parent,
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


def _count_queued(conn: Connection, tenant_id: str, added: int, max_unfinished: int | None) -> None:
    """Add `added` to the tenant's unfinished jobs, or raise JobQueueFull when that would pass
    `max_unfinished` (the caller's transaction then rolls back and nothing is queued)."""
    if max_unfinished is not None and added > max_unfinished:
        _refuse(tenant_id, added, max_unfinished, None)
    statement = upsert_insert(conn, job_tenants).values(tenant_id=tenant_id, unfinished=added, served_seq=0)
    grown = job_tenants.c.unfinished + statement.excluded.unfinished
    counted = conn.execute(
        statement.on_conflict_do_update(
            index_elements=[job_tenants.c.tenant_id],
            set_={"unfinished": grown},
            where=grown <= max_unfinished if max_unfinished is not None else None,
        ).returning(job_tenants.c.unfinished)
    ).first()
    if counted is None:
        assert max_unfinished is not None
        unfinished = conn.execute(
            select(job_tenants.c.unfinished).where(job_tenants.c.tenant_id == tenant_id)
        ).scalar_one()
        _refuse(tenant_id, added, max_unfinished, int(unfinished))


def _refuse(tenant_id: str, added: int, max_unfinished: int, unfinished: int | None) -> None:
    raise JobQueueFull(
        f"the tenant's job queue is full: {max_unfinished} unfinished jobs at most, "
        f"{added} more would not fit; retry when some have run",
        retry_after=_QUEUE_FULL_RETRY_SECONDS,
        details={"limit": max_unfinished, "unfinished": unfinished, "requested": added},
    )


def enqueue(conn: Connection, job: Job, *, max_unfinished: int | None = None) -> tuple[Job, bool]:
    """Queue `job` in the caller's transaction (it becomes claimable when that commits); with an idempotency
    key the tenant already used, return that job and False instead. Beyond `max_unfinished` unfinished jobs
    of the tenant, JobQueueFull (a replayed idempotency key is answered all the same)."""
    statement = upsert_insert(conn, jobs).values(_new_job_values(job, _draw_order(conn, [job])[0]))
    # Atomic on both engines: a concurrent enqueue with the same key waits for ours, then inserts nothing.
    inserted = conn.execute(
        statement.on_conflict_do_nothing(
            index_elements=[jobs.c.tenant_id, jobs.c.idempotency_key],
            index_where=jobs.c.idempotency_key.is_not(None),
        ).returning(jobs.c.id)
    ).first()
    if inserted is not None:
        _count_queued(conn, job.tenant_id, 1, max_unfinished)
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
    def enqueue(self, job: Job, *, max_unfinished: int | None = None) -> tuple[Job, bool]:
        with self._db.write() as conn:
            return enqueue(conn, job, max_unfinished=max_unfinished)

    @retry_conflicts
    def save_progress(self, progress: JobProgress) -> None:
        with self._db.write() as conn:
            save_progress(conn, progress)

    @retry_conflicts
    def create_batch(
        self, batch: Batch, jobs_of_batch: Sequence[Job], *, max_unfinished: int | None = None
    ) -> None:
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
                _count_queued(conn, batch.tenant_id, len(jobs_of_batch), max_unfinished)

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
    def status(self, tenant_id: str, job_id: str) -> JobStatus | None:
        with self._db.read() as conn:
            found = conn.execute(
                select(jobs.c.status).where(jobs.c.tenant_id == tenant_id, jobs.c.id == job_id)
            ).scalar_one_or_none()
        return JobStatus(found) if found is not None else None

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
            chosen = conn.execute(choose, {"now": now}).first()
            if chosen is None:
                return None
            job_id, tenant_id = chosen
            claimed = conn.execute(
                _LEASE, {"chosen": job_id, "worker": worker_id, "until": now + lease_seconds, "now": now}
            ).mappings()
            conn.execute(_GIVE_TURN[conn.dialect.name], {"tenant": tenant_id})
            return job_from_row(claimed.one())

    @retry_reads
    def others_waiting(self, tenant_id: str, now: float) -> bool:
        with self._db.read() as conn:
            return conn.execute(_OTHERS_WAITING, {"tenant": tenant_id, "now": now}).first() is not None

    @retry_conflicts
    def release(self, job_id: str, worker_id: str, now: float) -> bool:
        with self._db.write() as conn:
            released = conn.execute(_RELEASE, {"job": job_id, "worker": worker_id, "now": now})
            return released.rowcount == 1

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
            tenant_id = conn.execute(
                _COMPLETE, {"job": job_id, "worker": worker_id, "outcome": dumps(result), "now": now}
            ).scalar_one_or_none()
            if tenant_id is None:
                return False
            conn.execute(_FINISHED_ONE, {"tenant": tenant_id})
            return True

    @retry_conflicts
    def fail(self, job_id: str, worker_id: str, error: str, now: float, retry_at: float | None) -> bool:
        retried = retry_at is not None
        with self._db.write() as conn:
            tenant_id = conn.execute(
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
            ).scalar_one_or_none()
            if tenant_id is None:
                return False
            if not retried:
                conn.execute(_FINISHED_ONE, {"tenant": tenant_id})
            return True

    @retry_reads
    def counts(self) -> dict[str, int]:
        with self._db.read() as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
            return {status: int(count) for status, count in rows}

    @retry_reads
    def queue_stats(self) -> list[JobQueueStats]:
        statement = select(jobs.c.kind, jobs.c.status, func.count(), func.min(jobs.c.created_at)).group_by(
            jobs.c.kind, jobs.c.status
        )
        with self._db.read() as conn:
            return [
                JobQueueStats(kind, status, int(count), float(oldest))
                for kind, status, count, oldest in conn.execute(statement)
            ]
