"""Shared fixtures: settings on a fresh data directory per test; the OpenAI-compatible stub server; the real
local LLM server (llama-cpp-python serving Gemma 3 270M); a real PostgreSQL 16 and a fresh database per test; a
real Redis (emptied before each test that uses it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from membank.config import Settings
from tests.support.llama_server import LlamaServer, start_llama_server
from tests.support.openai_stub import OpenAIStub, serve_stub
from tests.support.postgres import PostgresServer, ScratchDatabases, start_postgres
from tests.support.redis import RedisServer, start_redis


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on this test's own data directory, quick job timings, overridable per test."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "workers": 1,
            "job_poll_seconds": 0.05,
            "job_lease_seconds": 5.0,
            "job_backoff_seconds": 0.05,
            "outbox_poll_seconds": 0.1,
            "log_json": False,
            "log_level": "WARNING",
            **overrides,
        }
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def openai_stub_server() -> Iterator[tuple[str, OpenAIStub]]:
    """One OpenAI-compatible stub server for the run: its base URL (ending in `/v1`) and its state."""
    with serve_stub() as running:
        yield running


@pytest.fixture
def openai_stub(openai_stub_server: tuple[str, OpenAIStub]) -> OpenAIStub:
    """The stub's state, reset for this test: no script, no recorded request."""
    stub = openai_stub_server[1]
    stub.reset()
    return stub


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """A real llama-cpp-python OpenAI-compatible server with Gemma 3 270M (started once, on first use)."""
    with start_llama_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL 16 (+ pgvector) for the run, on 127.0.0.1 and a free port (started on first use)."""
    with start_postgres() as server:
        yield server


MakePostgresDatabase = Callable[..., str]


@pytest.fixture
def make_postgres_database(postgres_server: PostgresServer) -> Iterator[MakePostgresDatabase]:
    """Creates fresh databases for this test and drops them afterwards: `make(template="template1")` returns
    the URL (`postgresql+psycopg://postgres@127.0.0.1:PORT/NAME`) of a new copy of `template`, e.g. one made
    once with `postgres_server.template(name, prepare)`."""
    databases = ScratchDatabases(postgres_server)
    yield databases.make
    databases.drop_all()


@pytest.fixture
def postgres_url(make_postgres_database: MakePostgresDatabase) -> str:
    """The URL of this test's own empty database (`CREATE EXTENSION vector` works in it)."""
    return make_postgres_database()


@pytest.fixture(scope="module")
def postgres_module_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of an empty database shared by the tests of one module, dropped after the module."""
    databases = ScratchDatabases(postgres_server)
    yield databases.make()
    databases.drop_all()


@pytest.fixture(scope="session")
def redis_session_server() -> Iterator[RedisServer]:
    """One real redis-server for the run, on 127.0.0.1 and a free port (started on first use)."""
    with start_redis() as server:
        yield server


@pytest.fixture
def redis_server(redis_session_server: RedisServer) -> RedisServer:
    """The run's redis-server, running (restarted if a test stopped it) and empty."""
    if not redis_session_server.running:
        redis_session_server.restart()
    redis_session_server.flush()
    return redis_session_server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """`redis://127.0.0.1:PORT/0` of an empty, running Redis."""
    return redis_server.url()
