"""Restarts and kill -9 lose no acknowledged write."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.e2e.conftest import all_contents, run_cli

pytestmark = pytest.mark.e2e


def _total(server: Any, user: str) -> int:
    total: int = server.client.get(f"/api/v1/users/{user}/memories").json()["data"]["total"]
    return total


def test_restart_keeps_every_memory(launch: Callable[..., Any], env: dict[str, str]) -> None:
    server = launch()
    ids = [
        server.client.post("/api/v1/memories", json={"user_id": "u1", "content": f"User fact {i}"}).json()[
            "data"
        ]["id"]
        for i in range(20)
    ]
    job = server.client.post(
        "/api/v1/memories/batch",
        json={"memories": [{"user_id": "u1", "content": f"Imported fact {i}"} for i in range(200)]},
    ).json()["data"]
    assert server.wait_job(job["id"])["status"] == "completed"
    server.stop()

    again = launch()
    assert _total(again, "u1") == 220
    assert again.client.get(f"/api/v1/memories/{ids[7]}").json()["data"]["content"] == "User fact 7"
    hits = again.client.post(
        "/api/v1/memories/search", json={"user_id": "u1", "query": "Imported fact 150"}
    ).json()
    assert hits["data"]["memories"][0]["content"] == "Imported fact 150"
    again.stop()
    report = orjson.loads(run_cli(env, "check").stdout)
    assert report["consistent"] is True and report["records"] == 220 == report["indexed"]


def _kill_mid_batch(server: Any, victim: Any, count: int) -> str:
    job = server.client.post(
        "/api/v1/memories/batch",
        json={"memories": [{"user_id": "bulk", "content": f"Bulk item number {i}"} for i in range(count)]},
    ).json()["data"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = server.client.get(f"/api/v1/jobs/{job['id']}").json()["data"]
        if 0 < state["progress"]["done"] < count:
            victim.kill9()
            return str(job["id"])
        assert state["status"] != "completed", "the batch finished before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError("the batch never started")


def test_kill_9_of_a_worker_mid_batch_loses_nothing(launch: Callable[..., Any]) -> None:
    settings = {"MEMBANK_BATCH_CHUNK_SIZE": "50", "MEMBANK_JOB_LEASE_SECONDS": "2"}
    server = launch(extra=["--no-workers"], **settings)
    worker = launch("worker", **settings)
    job_id = _kill_mid_batch(server, worker, 1500)
    interrupted = server.client.get(f"/api/v1/jobs/{job_id}").json()["data"]
    assert interrupted["status"] == "processing" and interrupted["progress"]["done"] < 1500

    launch("worker", **settings)
    finished = server.wait_job(job_id)
    assert finished["status"] == "completed" and finished["attempts"] == 2
    assert finished["result"]["created"] == 1500
    contents = all_contents(server, "bulk")
    assert len(contents) == 1500 and len(set(contents)) == 1500
    deadline = time.monotonic() + 30
    while server.client.get("/health").json()["data"]["outbox_pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    hit = server.client.post(
        "/api/v1/memories/search", json={"user_id": "bulk", "query": "Bulk item number 1499"}
    )
    assert hit.json()["data"]["memories"][0]["content"] == "Bulk item number 1499"


def test_kill_9_of_the_server_mid_batch_resumes_after_restart(launch: Callable[..., Any]) -> None:
    settings = {"MEMBANK_BATCH_CHUNK_SIZE": "50", "MEMBANK_JOB_LEASE_SECONDS": "2"}
    server = launch(**settings)
    job_id = _kill_mid_batch(server, server, 1000)
    again = launch(**settings)
    finished = again.wait_job(job_id)
    assert finished["status"] == "completed" and finished["result"]["created"] == 1000
    contents = all_contents(again, "bulk")
    assert len(contents) == 1000 and len(set(contents)) == 1000


def test_index_is_consistent_after_a_kill_9(launch: Callable[..., Any], env: dict[str, str]) -> None:
    server = launch()
    for i in range(30):
        server.client.post("/api/v1/memories", json={"user_id": "u1", "content": f"Acknowledged fact {i}"})
    server.kill9()
    report = orjson.loads(run_cli(env, "check", check=False).stdout)
    if not report["consistent"]:
        repaired = orjson.loads(run_cli(env, "check", "--repair").stdout)
        assert repaired["repaired"] is True
    assert orjson.loads(run_cli(env, "check").stdout)["consistent"] is True
    again = launch()
    assert _total(again, "u1") == 30
    hits = again.client.post(
        "/api/v1/memories/search", json={"user_id": "u1", "query": "Acknowledged fact 29"}
    )
    assert hits.json()["data"]["memories"][0]["content"] == "Acknowledged fact 29"
