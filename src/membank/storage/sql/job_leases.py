"""Service-wide lease views of the jobs table on SQLite and PostgreSQL (for `membank doctor` and the
admin diagnostics): what the claim path never has to count."""

from __future__ import annotations

from sqlalchemy import and_, func, select, update

from membank.models import JobStatus
from membank.storage.ports.job_leases import JobLeaseReport
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import jobs

_PROCESSING = JobStatus.PROCESSING.value
_DEAD = JobStatus.DEAD.value


class SqlJobLeases:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def lease_report(self, now: float, *, started_before: float, dead_since: float) -> JobLeaseReport:
        processing = jobs.c.status == _PROCESSING
        expired = and_(processing, jobs.c.lease_expires_at < now)
        long_running = and_(processing, jobs.c.lease_expires_at >= now, jobs.c.started_at < started_before)
        dead = and_(jobs.c.status == _DEAD, jobs.c.finished_at >= dead_since)
        statement = select(
            func.count().filter(expired),
            func.min(jobs.c.lease_expires_at).filter(expired),
            func.count().filter(long_running),
            func.min(jobs.c.started_at).filter(long_running),
            func.count().filter(dead),
            func.max(jobs.c.finished_at).filter(dead),
        ).where(jobs.c.status.in_((_PROCESSING, _DEAD)))
        with self._db.read() as conn:
            row = conn.execute(statement).one()
        return JobLeaseReport(
            expired=int(row[0]),
            oldest_expiry=_epoch(row[1]),
            long_running=int(row[2]),
            oldest_start=_epoch(row[3]),
            dead=int(row[4]),
            last_death=_epoch(row[5]),
        )

    @retry_conflicts
    def requeue_expired(self, now: float) -> int:
        # Unfinished before and after (processing -> queued): the tenant's count of unfinished jobs holds.
        statement = (
            update(jobs)
            .where(jobs.c.status == _PROCESSING, jobs.c.lease_expires_at < now)
            .values(
                status=JobStatus.QUEUED.value,
                lease_owner=None,
                lease_expires_at=None,
                run_after=now,
                updated_at=now,
            )
        )
        with self._db.write() as conn:
            return int(conn.execute(statement).rowcount)


def _epoch(value: float | None) -> float | None:
    return None if value is None else float(value)
