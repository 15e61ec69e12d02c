"""A pytest plugin that runs the API and e2e suites on PostgreSQL:
`python -m pytest -p tests.support.on_postgres tests/api tests/e2e` (`-m` puts the repository on sys.path).

Every test gets its own database, copied from one migrated once per run, and MEMBANK_STORE=postgres with that
database's URL: in the environment (the Settings built in-process read it) and in the e2e suite's `env` (the
environment of the server processes it starts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from membank.storage.sql.store import SqlRecordStore
from tests.support.postgres import PostgresServer

_TEMPLATE = "suite_on_postgres"


def _migrate(url: str) -> None:
    store = SqlRecordStore.postgres(url)
    try:
        store.migrate()
    finally:
        store.close()


@pytest.fixture(autouse=True)
def _on_postgres(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url: str = request.getfixturevalue("make_postgres_database")(server.template(_TEMPLATE, _migrate))
    monkeypatch.setenv("MEMBANK_STORE", "postgres")
    monkeypatch.setenv("MEMBANK_DATABASE_URL", url)
    env: dict[str, str] | None = request.getfixturevalue("env") if "env" in request.fixturenames else None
    if env is not None:
        env.update({"MEMBANK_STORE": "postgres", "MEMBANK_DATABASE_URL": url})
    yield
    if env is not None:  # the servers kept nothing in a SQLite file
        assert not (Path(env["MEMBANK_DATA_DIR"]) / "membank.sqlite3").exists()
