"""SQLite connection handling: WAL, one connection per thread, versioned migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from membank.errors import BackendUnavailable
from membank.models import now_utc, to_epoch

BUSY_TIMEOUT_MS = 15_000


class SqliteDatabase:
    """Hands each thread its own connection to one database file; writes use BEGIN IMMEDIATE."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable("the database is busy or unavailable") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def read(self) -> sqlite3.Connection:
        return self.connection()

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied."""
        conn = self.connection()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        applied: list[str] = []
        folder = resources.files("membank.storage.sqlite") / "migrations"
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            if not entry.name.endswith(".sql") or entry.name in done:
                continue
            with self.write() as tx:
                for statement in entry.read_text().split(";\n"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?)", (entry.name, to_epoch(now_utc())))
            applied.append(entry.name)
        return applied

    def ping(self) -> None:
        self.connection().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
