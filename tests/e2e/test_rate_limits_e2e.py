"""Two real `membank serve` processes on one PostgreSQL and one Redis: one request limit for both together;
Redis stopped mid-run, both keep answering (fail open), and enforce the limit again once it is back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakePostgresDatabase
from tests.support.redis import RedisServer

LIST = "/api/v1/users/u1/memories"


@pytest.mark.e2e
def test_two_servers_share_one_limit_and_keep_serving_when_redis_stops(
    launch: Callable[..., Any],
    make_postgres_database: MakePostgresDatabase,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    shared = {
        "MEMBANK_STORE": "postgres",
        "MEMBANK_DATABASE_URL": make_postgres_database(),
        "MEMBANK_REDIS_URL": redis_server.url(),
        "MEMBANK_RATE_LIMIT_PER_MINUTE": "6",
        "MEMBANK_REDIS_BREAKER_SECONDS": "0.05",
        "MEMBANK_WORKERS": "0",
    }
    a = launch(**shared)
    b = launch(**shared, MEMBANK_DATA_DIR=str(tmp_path / "data-b"))

    answers = [server.client.get(LIST) for server in (a, b) * 3]
    assert [r.status_code for r in answers] == [200] * 6
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["5", "4", "3", "2", "1", "0"]
    for server in (a, b):
        refused = server.client.get(LIST)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert int(refused.headers["Retry-After"]) >= 1

    redis_server.stop()
    assert [server.client.get(LIST).status_code for server in (a, b) * 3] == [200] * 6
    health = b.client.get("/health").json()["data"]
    assert health["components"]["redis"]["status"] == "degraded"

    redis_server.restart()  # empty again: a fresh allowance, shared again
    assert [server.client.get(LIST).status_code for server in (a, b) * 3] == [200] * 6
    assert a.client.get(LIST).status_code == 429
    assert b.client.get(LIST).status_code == 429
