"""Tenants and API keys in SQLite."""

from __future__ import annotations

import sqlite3
import uuid

import orjson

from membank.models import ApiKey, Tenant, from_epoch, now_utc, to_epoch
from membank.storage.sqlite.database import SqliteDatabase
from membank.storage.sqlite.rows import dumps


def _key(row: sqlite3.Row) -> ApiKey:
    r = row
    return ApiKey(
        id=r["id"],
        tenant_id=r["tenant_id"],
        name=r["name"],
        prefix=r["prefix"],
        secret_hash=r["secret_hash"],
        scopes=orjson.loads(r["scopes"]),
        created_at=from_epoch(r["created_at"]),
        last_used_at=from_epoch(r["last_used_at"]) if r["last_used_at"] else None,
        revoked_at=from_epoch(r["revoked_at"]) if r["revoked_at"] else None,
    )


class SqliteKeyRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def ensure_tenant(self, name: str) -> Tenant:
        existing = self.tenant_by_name(name)
        if existing is not None:
            return existing
        with self._db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO tenants VALUES (?, ?, ?)",
                (str(uuid.uuid4()), name, to_epoch(now_utc())),
            )
        tenant = self.tenant_by_name(name)
        assert tenant is not None
        return tenant

    def tenant_by_name(self, name: str) -> Tenant | None:
        row = self._db.read().execute("SELECT * FROM tenants WHERE name = ?", (name,)).fetchone()
        return Tenant(row["id"], row["name"], from_epoch(row["created_at"])) if row else None

    def tenants(self) -> list[Tenant]:
        rows = self._db.read().execute("SELECT * FROM tenants ORDER BY created_at, name")
        return [Tenant(row["id"], row["name"], from_epoch(row["created_at"])) for row in rows]

    def create_key(self, key: ApiKey) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    key.id,
                    key.tenant_id,
                    key.name,
                    key.prefix,
                    key.secret_hash,
                    dumps(key.scopes),
                    to_epoch(key.created_at),
                ),
            )

    def key_by_prefix(self, prefix: str) -> ApiKey | None:
        row = self._db.read().execute("SELECT * FROM api_keys WHERE prefix = ?", (prefix,)).fetchone()
        return _key(row) if row else None

    def list_keys(self, tenant_id: str | None) -> list[ApiKey]:
        conn = self._db.read()
        if tenant_id is None:
            rows = conn.execute("SELECT * FROM api_keys ORDER BY created_at")
        else:
            rows = conn.execute(
                "SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at", (tenant_id,)
            )
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: float) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL",
                (at, key_id, key_id),
            )
            return cursor.rowcount == 1

    def touch(self, key_id: str, at: float) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (at, key_id))
