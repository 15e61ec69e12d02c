"""Failed-login counts and lockouts on SQLite and PostgreSQL: the system of record of the counts."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, RowMapping, delete, select, update

from membank.storage.ports.login_failures import LockoutPolicy, LoginFailures
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import login_failures
from membank.storage.sql.upsert import upsert_insert


def _of(tenant_id: str, email: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return login_failures.c.tenant_id == tenant_id, login_failures.c.email == email


def _locked_row(conn: Connection, tenant_id: str, email: str, at: float) -> RowMapping:
    """The pair's row, created empty if missing, locked on PostgreSQL until the transaction ends (SQLite's
    write transaction holds the whole database): concurrent changes of one pair each count."""
    fresh = {"tenant_id": tenant_id, "email": email, "failures": 0, "lockouts": 0, "updated_at": at}
    conn.execute(upsert_insert(conn, login_failures).values(**fresh).on_conflict_do_nothing())
    return (
        conn.execute(select(login_failures).where(*_of(tenant_id, email)).with_for_update()).mappings().one()
    )


class SqlLoginFailures:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def get(self, tenant_id: str, email: str) -> LoginFailures | None:
        with self._db.read() as conn:
            row = conn.execute(select(login_failures).where(*_of(tenant_id, email))).mappings().first()
        return (
            LoginFailures(row["failures"], row["lockouts"], row["locked_until"]) if row is not None else None
        )

    @retry_conflicts
    def record(self, tenant_id: str, email: str, policy: LockoutPolicy, *, at: float) -> LoginFailures:
        with self._db.write() as conn:
            row = _locked_row(conn, tenant_id, email, at)
            failures, lockouts, locked_until = row["failures"] + 1, row["lockouts"], row["locked_until"]
            if failures >= policy.max_failures:
                lockouts += 1
                failures = 0
                locked_until = at + policy.duration(lockouts)
            conn.execute(
                update(login_failures)
                .where(*_of(tenant_id, email))
                .values(failures=failures, lockouts=lockouts, locked_until=locked_until, updated_at=at)
            )
        return LoginFailures(failures, lockouts, locked_until)

    @retry_conflicts
    def hold_lockout(
        self, tenant_id: str, email: str, lockouts: int, locked_until: float, *, at: float
    ) -> None:
        with self._db.write() as conn:
            row = _locked_row(conn, tenant_id, email, at)
            stored_until = row["locked_until"]
            conn.execute(
                update(login_failures)
                .where(*_of(tenant_id, email))
                .values(
                    lockouts=max(row["lockouts"], lockouts),
                    locked_until=locked_until if stored_until is None else max(stored_until, locked_until),
                    updated_at=at,
                )
            )

    @retry_conflicts
    def clear(self, tenant_id: str, email: str) -> bool:
        with self._db.write() as conn:
            cleared = conn.execute(delete(login_failures).where(*_of(tenant_id, email)))
            return cleared.rowcount > 0
