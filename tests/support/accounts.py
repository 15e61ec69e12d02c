"""Account rows for tests of login sessions: inserted straight into `users` (the accounts slice owns the
repository and the password logic; sessions only read these rows)."""

from __future__ import annotations

import time
import uuid

import orjson
from sqlalchemy import insert, update

from membank.models.account import UserAccount
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.tables import tenants, users


def insert_tenant(db: SqlDatabase, name: str) -> str:
    tenant_id = uuid.uuid4().hex
    with db.write() as conn:
        conn.execute(insert(tenants).values(id=tenant_id, name=name, created_at=time.time()))
    return tenant_id


def insert_account(
    db: SqlDatabase,
    tenant_id: str,
    *,
    roles: tuple[str, ...] = ("user",),
    user_ids: list[str] | None = None,
    status: str = "active",
) -> UserAccount:
    now = time.time()
    account = UserAccount(
        id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        email=f"{uuid.uuid4().hex[:8]}@example.com",
        display_name="Test Account",
        status=status,
        roles=list(roles),
        created_at=now,
        updated_at=now,
        user_ids=user_ids,
    )
    with db.write() as conn:
        conn.execute(
            insert(users).values(
                id=account.id,
                tenant_id=tenant_id,
                email=account.email,
                display_name=account.display_name,
                status=status,
                roles=orjson.dumps(account.roles).decode(),
                user_ids=orjson.dumps(user_ids).decode() if user_ids is not None else None,
                must_change_password=0,
                created_at=now,
                updated_at=now,
            )
        )
    return account


def set_status(db: SqlDatabase, account_id: str, status: str) -> None:
    with db.write() as conn:
        conn.execute(update(users).where(users.c.id == account_id).values(status=status))
