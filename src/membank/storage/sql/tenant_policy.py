"""Tenant authentication policies on SQLite and PostgreSQL."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from membank.storage.ports.tenant_policy import TenantPolicy
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import tenant_policies
from membank.storage.sql.upsert import upsert_insert


class SqlTenantPolicyRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def get(self, tenant_id: str) -> TenantPolicy:
        query = select(tenant_policies).where(tenant_policies.c.tenant_id == tenant_id)
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return TenantPolicy(tenant_id)
        return TenantPolicy(
            tenant_id=tenant_id,
            allow_registration=bool(row["allow_registration"]),
            registration_role=row["registration_role"],
            registration_email_domains=tuple(orjson.loads(row["registration_email_domains"])),
            mfa_required=bool(row["mfa_required"]),
            updated_at=row["updated_at"],
        )

    @retry_conflicts
    def put(self, policy: TenantPolicy) -> None:
        values = {
            "allow_registration": int(policy.allow_registration),
            "registration_role": policy.registration_role,
            "registration_email_domains": orjson.dumps(list(policy.registration_email_domains)).decode(),
            "mfa_required": int(policy.mfa_required),
            "updated_at": policy.updated_at,
        }
        with self._db.write() as conn:
            statement = upsert_insert(conn, tenant_policies).values(tenant_id=policy.tenant_id, **values)
            conn.execute(statement.on_conflict_do_update(index_elements=["tenant_id"], set_=values))
