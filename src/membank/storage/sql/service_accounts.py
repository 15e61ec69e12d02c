"""Service accounts on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import RowMapping, select, update

from membank.models.account import ServiceAccount
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import service_accounts
from membank.storage.sql.upsert import upsert_insert


def _account_from_row(row: RowMapping) -> ServiceAccount:
    return ServiceAccount(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        description=row["description"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


class SqlServiceAccountRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def create(self, account: ServiceAccount) -> bool:
        with self._db.write() as conn:
            statement = upsert_insert(conn, service_accounts).values(
                id=account.id,
                tenant_id=account.tenant_id,
                name=account.name,
                description=account.description,
                created_at=account.created_at,
                disabled_at=account.disabled_at,
            )
            # The unique (tenant, name) index decides between concurrent creators of one name.
            inserted = conn.execute(
                statement.on_conflict_do_nothing(
                    index_elements=[service_accounts.c.tenant_id, service_accounts.c.name]
                ).returning(service_accounts.c.id)
            )
            return inserted.first() is not None

    @retry_reads
    def get(self, tenant_id: str, account_id: str) -> ServiceAccount | None:
        query = select(service_accounts).where(
            service_accounts.c.tenant_id == tenant_id, service_accounts.c.id == account_id
        )
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return _account_from_row(row) if row is not None else None

    @retry_reads
    def list(self, tenant_id: str) -> list[ServiceAccount]:
        query = (
            select(service_accounts)
            .where(service_accounts.c.tenant_id == tenant_id)
            .order_by(service_accounts.c.created_at, service_accounts.c.id)
        )
        with self._db.read() as conn:
            return [_account_from_row(row) for row in conn.execute(query).mappings()]

    @retry_conflicts
    def disable(self, tenant_id: str, account_id: str, at: float) -> bool:
        with self._db.write() as conn:
            disabled = conn.execute(
                update(service_accounts)
                .where(
                    service_accounts.c.tenant_id == tenant_id,
                    service_accounts.c.id == account_id,
                    service_accounts.c.disabled_at.is_(None),
                )
                .values(disabled_at=at)
            )
            return disabled.rowcount == 1
