"""The test PostgreSQL itself: TCP on loopback, pgvector available, databases isolated and dropped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import MakePostgresDatabase
from tests.support.postgres import PostgresServer, ScratchDatabases


def test_the_server_listens_on_loopback_tcp_and_is_postgresql_16(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        address = conn.execute("SELECT inet_server_addr()::text").fetchone()
    assert version is not None and version[0].startswith("16")
    assert address is not None and address[0] == "127.0.0.1/32"


def test_each_test_database_is_fresh_and_has_pgvector(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
            )
            conn.execute(text("CREATE EXTENSION vector"))
            distance = conn.execute(text("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector")).scalar()
        assert distance == 2.0
    finally:
        engine.dispose()


def test_databases_made_from_a_template_are_independent_copies_of_it(
    postgres_server: PostgresServer, make_postgres_database: MakePostgresDatabase
) -> None:
    def prepare(url: str) -> None:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE marker (value text)"))
            conn.execute(text("INSERT INTO marker VALUES ('from the template')"))
        engine.dispose()

    template = postgres_server.template("support_test_template", prepare)
    first, second = make_postgres_database(template), make_postgres_database(template)
    engine = create_engine(first)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT value FROM marker")).scalar() == "from the template"
        conn.execute(text("DELETE FROM marker"))
    engine.dispose()
    engine = create_engine(second)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM marker")).scalar() == 1
    engine.dispose()


def test_the_databases_of_a_test_are_dropped_when_it_ends(postgres_server: PostgresServer) -> None:
    # What the fixtures do at teardown, here with a connection left open (a leaked engine) that must not
    # stop the drop.
    databases = ScratchDatabases(postgres_server)
    url = databases.make()
    name = url.rsplit("/", 1)[1]
    leaked = postgres_server.connect(name)
    assert name in _databases(postgres_server)
    databases.drop_all()
    assert name not in _databases(postgres_server)
    assert leaked.closed or leaked.broken or _is_dead(leaked)


def _is_dead(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def _databases(server: PostgresServer) -> set[str]:
    with server.connect() as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_a_killed_pytest_leaves_no_postgres_behind(tmp_path: Path) -> None:
    # A child Python starts a server, reports the postmaster's pid, and is then killed with SIGKILL.
    script = (
        "import sys, time\n"
        "from tests.support.postgres import start_postgres\n"
        "with start_postgres() as server:\n"
        "    print(server.process.pid, server.port, flush=True)\n"
        "    time.sleep(120)\n"
    )
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=root,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert child.stdout is not None
    postmaster, port = (int(value) for value in child.stdout.readline().split())
    psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres").close()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(postmaster):
            time.sleep(0.05)
        assert not _running(postmaster)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
            )
    finally:
        if _running(postmaster):
            os.kill(postmaster, signal.SIGQUIT)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
