"""Signing keys on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, insert, or_, select, text, update

from membank.storage.ports.signing_keys import SigningKeyRecord
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import signing_keys

# Serialises the creation and rotation of signing keys across PostgreSQL sessions (SQLite's BEGIN IMMEDIATE
# serialises every writer already); any constant unique to this use.
_SIGNING_KEYS_LOCK = 0x6D62_7369_676E


def _key_from_row(row: RowMapping) -> SigningKeyRecord:
    return SigningKeyRecord(
        kid=row["kid"],
        algorithm=row["algorithm"],
        private_key=row["private_key"],
        public_jwk=loads(row["public_jwk"]),
        created_at=row["created_at"],
        retired_at=row["retired_at"],
    )


class SqlSigningKeys:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def usable(self, now: float) -> list[SigningKeyRecord]:
        query = (
            select(signing_keys)
            .where(or_(signing_keys.c.retired_at.is_(None), signing_keys.c.retired_at > now))
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid.desc())
        )
        with self._db.read() as conn:
            return [_key_from_row(row) for row in conn.execute(query).mappings()]

    @retry_conflicts
    def add_first(self, key: SigningKeyRecord, now: float) -> SigningKeyRecord:
        with self._db.write() as conn:
            self._lock(conn)
            signing = self._signing(conn)
            if signing is not None:
                return signing
            self._insert(conn, key)
        return key

    @retry_conflicts
    def rotate(self, key: SigningKeyRecord, *, retire_at: float) -> list[str]:
        with self._db.write() as conn:
            self._lock(conn)
            retiring = conn.execute(
                update(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .values(retired_at=retire_at)
                .returning(signing_keys.c.kid)
            )
            kids = sorted(retiring.scalars())
            self._insert(conn, key)
        return kids

    def _lock(self, conn: Connection) -> None:
        if self._db.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _SIGNING_KEYS_LOCK})

    @staticmethod
    def _signing(conn: Connection) -> SigningKeyRecord | None:
        query = (
            select(signing_keys)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid.desc())
            .limit(1)
        )
        row = conn.execute(query).mappings().first()
        return _key_from_row(row) if row is not None else None

    @staticmethod
    def _insert(conn: Connection, key: SigningKeyRecord) -> None:
        conn.execute(
            insert(signing_keys).values(
                kid=key.kid,
                algorithm=key.algorithm,
                private_key=key.private_key,
                public_jwk=dumps(key.public_jwk),
                created_at=key.created_at,
                retired_at=key.retired_at,
            )
        )
