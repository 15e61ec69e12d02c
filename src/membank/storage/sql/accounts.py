"""Human accounts, password history and MFA recovery codes on SQLite and PostgreSQL."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, delete, insert, select, update

from membank.models.account import UserAccount
from membank.storage.ports.accounts import ACCOUNT_FIELDS
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import mfa_recovery_codes, password_history, users
from membank.storage.sql.upsert import upsert_insert

_JSON_FIELDS = frozenset({"roles", "user_ids", "team_ids"})


def _optional_list(value: str | None) -> list[str] | None:
    return loads(value) if value is not None else None


def account_from_row(row: RowMapping) -> UserAccount:
    """An account from a row holding every column of `users` (alone or joined)."""
    return UserAccount(
        id=row["id"],
        tenant_id=row["tenant_id"],
        email=row["email"],
        display_name=row["display_name"],
        status=row["status"],
        roles=loads(row["roles"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        user_ids=_optional_list(row["user_ids"]),
        team_ids=_optional_list(row["team_ids"]),
        password_hash=row["password_hash"],
        password_changed_at=row["password_changed_at"],
        must_change_password=bool(row["must_change_password"]),
        mfa_secret=row["mfa_secret"],
        mfa_enabled_at=row["mfa_enabled_at"],
        last_login_at=row["last_login_at"],
    )


def _column_value(name: str, value: object) -> object:
    if name in _JSON_FIELDS:
        return dumps(value) if value is not None else None
    if name == "must_change_password":
        return int(bool(value))
    return value


def _add_history(conn: Connection, account_id: str, password_hash: str, at: float, *, keep: int) -> None:
    conn.execute(
        insert(password_history).values(user_id=account_id, password_hash=password_hash, created_at=at)
    )
    kept = (
        select(password_history.c.id)
        .where(password_history.c.user_id == account_id)
        .order_by(password_history.c.created_at.desc(), password_history.c.id.desc())
        .limit(max(keep, 1))
    )
    conn.execute(
        delete(password_history).where(
            password_history.c.user_id == account_id, password_history.c.id.not_in(kept.scalar_subquery())
        )
    )


class SqlAccountRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def create(self, account: UserAccount) -> bool:
        values: dict[str, object] = {
            "id": account.id,
            "tenant_id": account.tenant_id,
            "email": account.email,
            "display_name": account.display_name,
            "status": account.status,
            "password_hash": account.password_hash,
            "password_changed_at": account.password_changed_at,
            "mfa_secret": account.mfa_secret,
            "mfa_enabled_at": account.mfa_enabled_at,
            "last_login_at": account.last_login_at,
            "created_at": account.created_at,
            "updated_at": account.updated_at,
        }
        for name in ("roles", "user_ids", "team_ids", "must_change_password"):
            values[name] = _column_value(name, getattr(account, name))
        with self._db.write() as conn:
            # The unique (tenant, email) index decides between concurrent creators of one email.
            inserted = conn.execute(
                upsert_insert(conn, users)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[users.c.tenant_id, users.c.email])
                .returning(users.c.id)
            ).first()
            if inserted is None:
                return False
            if account.password_hash is not None:
                _add_history(conn, account.id, account.password_hash, account.created_at, keep=1)
            return True

    @retry_reads
    def get(self, tenant_id: str, account_id: str) -> UserAccount | None:
        return self._one(select(users).where(users.c.tenant_id == tenant_id, users.c.id == account_id))

    @retry_reads
    def by_email(self, tenant_id: str, email: str) -> UserAccount | None:
        return self._one(select(users).where(users.c.tenant_id == tenant_id, users.c.email == email))

    def _one(self, query: Select[Any]) -> UserAccount | None:
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return account_from_row(row) if row is not None else None

    @retry_reads
    def list(self, tenant_id: str, *, limit: int, after: str | None = None) -> list[UserAccount]:
        query = select(users).where(users.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(users.c.email > after)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(users.c.email).limit(limit)).mappings()
            return [account_from_row(row) for row in rows]

    @retry_conflicts
    def update(
        self, tenant_id: str, account_id: str, changes: Mapping[str, object], *, at: float
    ) -> UserAccount | None:
        unknown = set(changes) - ACCOUNT_FIELDS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = {name: _column_value(name, value) for name, value in changes.items()}
        with self._db.write() as conn:
            row = (
                conn.execute(
                    update(users)
                    .where(users.c.tenant_id == tenant_id, users.c.id == account_id)
                    .values(**values, updated_at=at)
                    .returning(*users.c)
                )
                .mappings()
                .first()
            )
        return account_from_row(row) if row is not None else None

    @retry_conflicts
    def set_password(
        self,
        tenant_id: str,
        account_id: str,
        password_hash: str,
        *,
        at: float,
        must_change: bool,
        keep_history: int,
    ) -> None:
        with self._db.write() as conn:
            changed = conn.execute(
                update(users)
                .where(users.c.id == account_id, users.c.tenant_id == tenant_id)
                .values(
                    password_hash=password_hash,
                    password_changed_at=at,
                    must_change_password=int(must_change),
                    updated_at=at,
                )
            )
            if changed.rowcount == 1:  # another tenant's account is not this tenant's to change
                _add_history(conn, account_id, password_hash, at, keep=keep_history)

    @retry_conflicts
    def replace_hash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == account_id, users.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )
            conn.execute(
                update(password_history)
                .where(password_history.c.user_id == account_id, password_history.c.password_hash == old_hash)
                .values(password_hash=new_hash)
            )

    @retry_reads
    def password_history(self, account_id: str, limit: int) -> builtins.list[str]:
        query = (
            select(password_history.c.password_hash)
            .where(password_history.c.user_id == account_id)
            .order_by(password_history.c.created_at.desc(), password_history.c.id.desc())
            .limit(limit)
        )
        with self._db.read() as conn:
            return list(conn.execute(query).scalars())

    @retry_conflicts
    def replace_recovery_codes(self, account_id: str, code_hashes: Collection[str], *, at: float) -> None:
        with self._db.write() as conn:
            conn.execute(delete(mfa_recovery_codes).where(mfa_recovery_codes.c.user_id == account_id))
            if code_hashes:
                rows = [{"user_id": account_id, "code_hash": h, "created_at": at} for h in code_hashes]
                conn.execute(insert(mfa_recovery_codes), rows)

    @retry_conflicts
    def use_recovery_code(self, account_id: str, code_hash: str, *, at: float) -> bool:
        with self._db.write() as conn:
            used = conn.execute(
                update(mfa_recovery_codes)
                .where(
                    mfa_recovery_codes.c.user_id == account_id,
                    mfa_recovery_codes.c.code_hash == code_hash,
                    mfa_recovery_codes.c.used_at.is_(None),
                )
                .values(used_at=at)
            )
            return used.rowcount == 1
