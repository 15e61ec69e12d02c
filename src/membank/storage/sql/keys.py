"""Tenants and API keys on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from sqlalchemy import RowMapping, func, insert, or_, select, update

from membank.models import ApiKey, Tenant, from_epoch, now_utc, to_epoch
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import api_keys, key_usage, tenants
from membank.storage.sql.upsert import upsert_insert


def _tenant_from_row(row: RowMapping) -> Tenant:
    return Tenant(row["id"], row["name"], from_epoch(row["created_at"]))


def _key_from_row(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        scopes=loads(row["scopes"]),
        created_at=from_epoch(row["created_at"]),
        last_used_at=from_epoch(row["last_used_at"]) if row["last_used_at"] is not None else None,
        revoked_at=from_epoch(row["revoked_at"]) if row["revoked_at"] is not None else None,
        roles=loads(row["roles"]) if row["roles"] is not None else None,
        user_ids=loads(row["user_ids"]) if row["user_ids"] is not None else None,
        team_ids=loads(row["team_ids"]) if row["team_ids"] is not None else None,
        service_account_id=row["service_account_id"],
        expires_at=from_epoch(row["expires_at"]) if row["expires_at"] is not None else None,
        allowed_ips=loads(row["allowed_ips"]) if row["allowed_ips"] is not None else None,
        require_signature=bool(row["require_signature"]),
        previous_secret_hash=row["previous_secret_hash"],
        previous_valid_until=row["previous_valid_until"],
    )


def _json_or_null(values: list[str] | None) -> str | None:
    return dumps(values) if values is not None else None


class SqlKeyRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def ensure_tenant(self, name: str) -> Tenant:
        existing = self.tenant_by_name(name)
        return existing if existing is not None else self._create_tenant(name)

    @retry_conflicts
    def _create_tenant(self, name: str) -> Tenant:
        with self._db.write() as conn:
            statement = upsert_insert(conn, tenants).values(
                id=str(uuid.uuid4()), name=name, created_at=to_epoch(now_utc())
            )
            # A concurrent ensure_tenant of the same name may have won: then its tenant is the one.
            conn.execute(statement.on_conflict_do_nothing(index_elements=[tenants.c.name]))
            row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().one()
        return _tenant_from_row(row)

    @retry_reads
    def tenant_by_name(self, name: str) -> Tenant | None:
        with self._db.read() as conn:
            row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()
        return _tenant_from_row(row) if row is not None else None

    @retry_reads
    def tenants(self) -> list[Tenant]:
        with self._db.read() as conn:
            rows = conn.execute(select(tenants).order_by(tenants.c.created_at, tenants.c.name)).mappings()
            return [_tenant_from_row(row) for row in rows]

    @retry_conflicts
    def create_key(self, key: ApiKey) -> None:
        with self._db.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=key.id,
                    tenant_id=key.tenant_id,
                    name=key.name,
                    prefix=key.prefix,
                    secret_hash=key.secret_hash,
                    scopes=dumps(key.scopes),
                    created_at=to_epoch(key.created_at),
                    roles=_json_or_null(key.roles),
                    user_ids=_json_or_null(key.user_ids),
                    team_ids=_json_or_null(key.team_ids),
                    service_account_id=key.service_account_id,
                    expires_at=to_epoch(key.expires_at) if key.expires_at is not None else None,
                    allowed_ips=_json_or_null(key.allowed_ips),
                    require_signature=int(key.require_signature),
                )
            )

    @retry_reads
    def key_by_prefix(self, prefix: str) -> ApiKey | None:
        with self._db.read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).mappings().first()
        return _key_from_row(row) if row is not None else None

    @retry_reads
    def list_keys(self, tenant_id: str | None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if tenant_id is not None:
            query = query.where(api_keys.c.tenant_id == tenant_id)
        with self._db.read() as conn:
            return [_key_from_row(row) for row in conn.execute(query).mappings()]

    @retry_conflicts
    def revoke(self, key_id: str, at: float) -> bool:
        with self._db.write() as conn:
            revoked = conn.execute(
                update(api_keys)
                .where(
                    or_(api_keys.c.id == key_id, api_keys.c.prefix == key_id), api_keys.c.revoked_at.is_(None)
                )
                .values(revoked_at=at)
            )
            return revoked.rowcount == 1

    @retry_conflicts
    def touch(self, key_id: str, at: float) -> None:
        with self._db.write_one() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))

    @retry_reads
    def key_by_id(self, tenant_id: str, key_id: str) -> ApiKey | None:
        query = select(api_keys).where(
            api_keys.c.tenant_id == tenant_id, or_(api_keys.c.id == key_id, api_keys.c.prefix == key_id)
        )
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return _key_from_row(row) if row is not None else None

    @retry_conflicts
    def rotate(self, key_id: str, *, secret_hash: str, previous_valid_until: float) -> bool:
        with self._db.write() as conn:
            rotated = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(
                    previous_secret_hash=api_keys.c.secret_hash,
                    previous_valid_until=previous_valid_until,
                    secret_hash=secret_hash,
                )
            )
            return rotated.rowcount == 1

    @retry_conflicts
    def add_usage(self, counts: Mapping[tuple[str, str], int]) -> None:
        if not counts:
            return
        with self._db.write() as conn:
            # Sorted, so concurrent flushes of several processes take row locks in one order.
            for (key_id, day), requests in sorted(counts.items()):
                statement = upsert_insert(conn, key_usage).values(key_id=key_id, day=day, requests=requests)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[key_usage.c.key_id, key_usage.c.day],
                        set_={"requests": key_usage.c.requests + statement.excluded.requests},
                    )
                )

    @retry_reads
    def usage(self, key_id: str, *, since_day: str) -> list[tuple[str, int]]:
        query = (
            select(key_usage.c.day, key_usage.c.requests)
            .where(key_usage.c.key_id == key_id, key_usage.c.day >= since_day)
            .order_by(key_usage.c.day)
        )
        with self._db.read() as conn:
            return [(row.day, int(row.requests)) for row in conn.execute(query)]

    @retry_reads
    def usage_totals(self, key_ids: Collection[str]) -> dict[str, int]:
        if not key_ids:
            return {}
        query = (
            select(key_usage.c.key_id, func.sum(key_usage.c.requests).label("total"))
            .where(key_usage.c.key_id.in_(list(key_ids)))
            .group_by(key_usage.c.key_id)
        )
        with self._db.read() as conn:
            return {row.key_id: int(row.total) for row in conn.execute(query)}
