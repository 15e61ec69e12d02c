"""The SQLite system of record (embedded default)."""

from __future__ import annotations

from pathlib import Path

from membank.storage.sqlite.conversations import (
    SqliteLockRepository,
    SqliteSessionRepository,
    SqliteUsageRepository,
)
from membank.storage.sqlite.database import SqliteDatabase
from membank.storage.sqlite.jobs import SqliteJobRepository
from membank.storage.sqlite.keys import SqliteKeyRepository
from membank.storage.sqlite.memories import SqliteMemoryRepository
from membank.storage.sqlite.outbox import SqliteIdempotency, SqliteOutbox

__all__ = ["SqliteRecordStore"]


class SqliteRecordStore:
    """Every repository of the system of record over one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path)
        self.memories = SqliteMemoryRepository(self.db)
        self.outbox = SqliteOutbox(self.db)
        self.jobs = SqliteJobRepository(self.db)
        self.keys = SqliteKeyRepository(self.db)
        self.idempotency = SqliteIdempotency(self.db)
        self.sessions = SqliteSessionRepository(self.db)
        self.locks = SqliteLockRepository(self.db)
        self.usage = SqliteUsageRepository(self.db)
        # History entries and revision bumps are written by the memory writes themselves: one
        # repository serves the three ports.
        self.versions = self.memories
        self.revisions = self.memories

    def migrate(self) -> list[str]:
        return self.db.migrate()

    def ping(self) -> None:
        self.db.ping()

    def close(self) -> None:
        self.db.close()
