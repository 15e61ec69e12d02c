"""The API when its PostgreSQL is down, slow or refusing connections: 503 BACKEND_UNAVAILABLE (never a 500,
a hang or a secret), nothing half-written, and service again without a restart once the database is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from membank.config import Settings
from membank.storage.sql.store import SqlRecordStore
from tests.api.conftest import open_api
from tests.api.metrics_support import samples
from tests.support.postgres import PostgresServer, start_postgres

# Trust authentication ignores it, but the app is given it like a real one and must never show it.
PASSWORD = "Pw-never-shown-7f3a9c"
APP_ROLE = "membank_app"


def _url(server: PostgresServer, database: str, user: str = "postgres") -> str:
    return f"postgresql+psycopg://{user}:{PASSWORD}@{server.host}:{server.port}/{database}"


def _migrated_database(server: PostgresServer) -> str:
    name = server.create_database()
    store = SqlRecordStore.postgres(server.url(name))
    try:
        store.migrate()
    finally:
        store.close()
    return name


def _settings(make_settings: Callable[..., Settings], url: str, **overrides: Any) -> Settings:
    return make_settings(store="postgres", database_url=url, log_level="INFO", **overrides)


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"]["code"] == "BACKEND_UNAVAILABLE"
    _assert_no_secret(response.text)


def _assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert "postgresql+psycopg://" not in text
    assert "Traceback" not in text


def _rows(server: PostgresServer, database: str, query: str, *params: object) -> int:
    with server.connect(database) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own: it is stopped and started again, the session's server is untouched."""
    with start_postgres() as server:
        yield server


def test_postgres_down_answers_503_then_serves_again_with_every_acknowledged_write(
    own_postgres: PostgresServer,
    make_settings: Callable[..., Settings],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = _migrated_database(own_postgres)
    settings = _settings(make_settings, _url(own_postgres, database))
    with open_api(settings) as api:
        acknowledged = {api.add(f"Fact number {i} before the outage")["id"]: i for i in range(8)}
        assert api.call("GET", "/health/ready").status_code == 200

        own_postgres.stop()
        _assert_unavailable(api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": "lost?"}))
        _assert_unavailable(api.call("GET", f"/api/v1/memories/{next(iter(acknowledged))}"))
        _assert_unavailable(api.call("GET", "/api/v1/users/u1/memories"))
        _assert_unavailable(api.search("Fact number 3"))
        for path, code in (("/health", "UNHEALTHY"), ("/health/ready", "NOT_READY")):
            response = api.call("GET", path)
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == code
            assert error["details"]["components"]["store"]["status"] == "error"
            _assert_no_secret(response.text)
        assert api.call("GET", "/health/live").status_code == 200
        # The scrape still answers (so the store-down alert fires, not the API-down one).
        assert samples(api)[("membank_backend_up", (("backend", "store"),))] == 0

        own_postgres.restart()
        assert api.call("GET", "/health/ready").status_code == 200
        assert samples(api)[("membank_backend_up", (("backend", "store"),))] == 1
        for memory_id, i in acknowledged.items():
            got = api.call("GET", f"/api/v1/memories/{memory_id}")
            assert got.status_code == 200, got.text
            assert got.json()["data"]["content"] == f"Fact number {i} before the outage"
        after = api.add("A fact after the outage")
        listed = api.call("GET", "/api/v1/users/u1/memories?limit=100").json()["data"]
        assert listed["total"] == len(acknowledged) + 1
        assert {m["id"] for m in listed["memories"]} == {*acknowledged, after["id"]}
    logs = capfd.readouterr()
    _assert_no_secret(logs.out + logs.err + caplog.text)


def test_a_write_blocked_by_a_lock_times_out_with_503_and_writes_nothing(
    postgres_server: PostgresServer, make_settings: Callable[..., Settings]
) -> None:
    database = _migrated_database(postgres_server)
    settings = _settings(make_settings, _url(postgres_server, database), database_statement_timeout_ms=300)
    content = "Written only once the lock is gone"
    request = {"user_id": "u1", "content": content}
    with open_api(settings) as api:
        api.add("A fact before the lock")
        locked = threading.Event()
        release = threading.Event()

        def hold_lock() -> None:
            with postgres_server.connect(database) as conn, conn.transaction():
                conn.execute("LOCK TABLE memories IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(30)

        holder = threading.Thread(target=hold_lock)
        holder.start()
        try:
            assert locked.wait(10)
            started = time.monotonic()
            blocked = api.call("POST", "/api/v1/memories", json=request)
            elapsed = time.monotonic() - started
        finally:
            release.set()
            holder.join(10)
        _assert_unavailable(blocked)
        assert elapsed < 3.0, f"the blocked write answered after {elapsed:.1f}s, not about the 0.3s timeout"
        assert (
            _rows(postgres_server, database, "SELECT count(*) FROM memories WHERE content = %s", content) == 0
        )
        assert (
            _rows(
                postgres_server,
                database,
                "SELECT count(*) FROM memory_versions WHERE new_content = %s",
                content,
            )
            == 0
        )
        orphaned_outbox = "SELECT count(*) FROM outbox WHERE memory_id NOT IN (SELECT id FROM memories)"
        assert _rows(postgres_server, database, orphaned_outbox) == 0

        again = api.call("POST", "/api/v1/memories", json=request)
        assert again.status_code == 201, again.text
        assert (
            _rows(postgres_server, database, "SELECT count(*) FROM memories WHERE content = %s", content) == 1
        )
        assert (
            _rows(
                postgres_server,
                database,
                "SELECT count(*) FROM memory_versions WHERE new_content = %s",
                content,
            )
            == 1
        )


@pytest.fixture
def app_role(postgres_server: PostgresServer) -> Iterator[str]:
    """A login role without superuser rights (a superuser ignores connection limits)."""
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(APP_ROLE)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(APP_ROLE)))
    yield APP_ROLE
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(APP_ROLE)))


def test_a_database_refusing_connections_answers_503_within_the_pool_timeout(
    postgres_server: PostgresServer, make_settings: Callable[..., Settings], app_role: str
) -> None:
    database = _migrated_database(postgres_server)
    with postgres_server.connect(database) as conn:
        for kind in ("TABLES", "SEQUENCES"):
            conn.execute(
                sql.SQL("GRANT ALL ON ALL {} IN SCHEMA public TO {}").format(
                    sql.SQL(kind), sql.Identifier(app_role)
                )
            )
    settings = _settings(
        make_settings, _url(postgres_server, database, app_role), database_pool_timeout_seconds=2.0
    )
    try:
        with open_api(settings) as api:
            api.add("A fact before the limit")
            _refuse_connections(postgres_server, database, app_role)
            started = time.monotonic()
            refused = api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": "refused"})
            elapsed = time.monotonic() - started
            _assert_unavailable(refused)
            assert elapsed < 2.0 + 3.0, f"a refused connection answered after {elapsed:.1f}s"
            assert api.call("GET", "/health/ready").status_code == 503

            with postgres_server.connect() as conn:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} CONNECTION LIMIT -1").format(sql.Identifier(database))
                )
            api.add("A fact once connections are allowed again")
            assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 2
    finally:
        postgres_server.drop_database(database)


def _refuse_connections(server: PostgresServer, database: str, role: str) -> None:
    """No new connection to `database`, and the app's open ones ended (its pool must reconnect)."""
    with server.connect() as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT 0").format(sql.Identifier(database)))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND usename = %s",
            (database, role),
        )
    with pytest.raises(psycopg.OperationalError, match="too many connections"):
        psycopg.connect(host=server.host, port=server.port, user=role, dbname=database).close()


def test_an_app_stopping_while_postgres_is_down_closes_cleanly_and_its_writes_reach_the_index(
    own_postgres: PostgresServer, make_settings: Callable[..., Settings]
) -> None:
    database = _migrated_database(own_postgres)
    settings = _settings(make_settings, _url(own_postgres, database))
    with open_api(settings) as api:
        written = api.add("Searchable after a stop during the outage")
        own_postgres.stop()
    # The shutdown did not fail on the outbox it could not drain, so it closed the index: a new app opens it.
    own_postgres.restart()
    with open_api(settings) as api:
        hits = api.search("Searchable after a stop").json()["data"]["memories"]
        assert [hit["id"] for hit in hits][:1] == [written["id"]]
