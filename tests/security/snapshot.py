"""What a refused request must not change: row counts and latest change times of the tables it could touch.

`api_keys.last_used_at` and `auth_sessions.last_seen_at` are left out on purpose: a key or login session that
authenticates and is then refused (403, or 404 on another tenant's object) was still used, and the store notes
that at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.pool import NullPool

from membank.storage.sql import tables

_WATCHED: dict[str, tuple[str, ...]] = {
    "memories": ("updated_at", "deleted_at"),
    "memory_versions": ("created_at",),
    "jobs": ("updated_at",),
    "api_keys": ("created_at", "revoked_at", "expires_at", "previous_valid_until"),
    "users": ("updated_at",),
    "login_failures": ("updated_at",),
    "auth_sessions": ("revoked_at", "mfa_at"),
    "roles": ("updated_at",),
    "teams": ("created_at",),
    "team_members": ("added_at",),
    "tenants": ("created_at",),
    "ip_rules": ("created_at",),
    "tenant_policies": ("updated_at",),
    "service_accounts": ("created_at", "disabled_at"),
}

Snapshot = dict[str, tuple[Any, ...]]


@contextmanager
def store_reader(sqlite_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{sqlite_path}", poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def take(engine: Engine) -> Snapshot:
    """Per watched table: (row count, max of each change-time column)."""
    taken: Snapshot = {}
    with engine.connect() as conn:
        for name, columns in _WATCHED.items():
            table = tables.metadata.tables[name]
            query = select(func.count(), *(func.max(table.c[column]) for column in columns))
            row = conn.execute(query.select_from(table)).one()
            taken[name] = tuple(row)
    return taken


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    return [f"{name}: {before[name]} -> {after[name]}" for name in before if before[name] != after[name]]
