"""Two real `membank serve` processes on one PostgreSQL and one Redis: a write through one makes the other's
next answer fresh, answers and query vectors are shared through Redis, and a Redis outage costs neither
process anything but the cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e


def _wait(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _synthesize(server: Any, query: str) -> dict[str, Any]:
    response = server.client.post(
        "/api/v1/memories/synthesize-context", json={"user_id": "u1", "query": query}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _found(server: Any, query: str, memory_id: str) -> bool:
    response = server.client.post("/api/v1/memories/search", json={"user_id": "u1", "query": query})
    return response.status_code == 200 and memory_id in [m["id"] for m in response.json()["data"]["memories"]]


def test_two_server_processes_share_the_cache_and_see_each_others_writes_at_once(
    launch: Callable[..., Any], postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = {
        "MEMBANK_STORE": "postgres",
        "MEMBANK_DATABASE_URL": postgres_url,
        "MEMBANK_REDIS_URL": redis_server.url(),
        "MEMBANK_INDEX_PROBE_SECONDS": "0.2",
        "MEMBANK_REDIS_BREAKER_SECONDS": "0.2",
        "MEMBANK_REDIS_BREAKER_MAX_SECONDS": "0.5",
    }
    a = launch(MEMBANK_DATA_DIR=str(tmp_path / "a"), **settings)
    created = a.client.post("/api/v1/memories", json={"user_id": "u1", "content": "User likes lattes"})
    assert created.status_code == 201, created.text
    lattes = created.json()["data"]["id"]
    _wait(lambda: a.client.get("/health").json()["data"]["outbox_pending"] == 0)
    b = launch(MEMBANK_DATA_DIR=str(tmp_path / "b"), **settings)
    _wait(lambda: _found(b, "lattes", lattes))  # B's own index caught up from the database

    assert _synthesize(b, "drinks")["cached"] is False
    assert _synthesize(b, "drinks")["cached"] is True
    assert _synthesize(a, "drinks")["cached"] is True  # B's answer, through Redis

    assert a.client.delete(f"/api/v1/memories/{lattes}").status_code == 200
    fresh = _synthesize(b, "drinks")
    assert fresh["cached"] is False and "lattes" not in fresh["context"]
    assert not _found(b, "lattes", lattes)

    redis_server.stop()
    for server in (a, b):
        assert (
            server.client.post(
                "/api/v1/memories/search", json={"user_id": "u1", "query": "anything new"}
            ).status_code
            == 200
        )
        health = server.client.get("/health").json()["data"]
        assert health["status"] == "degraded" and health["components"]["redis"]["status"] == "degraded"
    redis_server.restart()
    for server in (a, b):
        _wait(
            lambda s=server: s.client.get("/health").json()["data"]["components"]["redis"]["status"] == "ok"
        )
    assert "redis://" not in a.output() + b.output()
