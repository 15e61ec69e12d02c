"""Several stateless `membank serve --no-workers` instances and `membank worker` processes over one PostgreSQL
(system of record and pgvector index) and one Redis: whatever instance a request reaches, it sees the same
memories, jobs and limits, and a killed worker loses nothing."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from membank.storage.pgvector import PgvectorIndex
from tests.e2e.conftest import BIN, all_contents, assert_one_line_error, run_cli
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e

CHUNK = {"MEMBANK_BATCH_CHUNK_SIZE": "50", "MEMBANK_JOB_LEASE_SECONDS": "2"}


@pytest.fixture
def cluster_env(env: dict[str, str], postgres_url: str, redis_server: RedisServer) -> dict[str, str]:
    env.update(
        {
            "MEMBANK_STORE": "postgres",
            "MEMBANK_DATABASE_URL": postgres_url,
            "MEMBANK_VECTOR_INDEX": "pgvector",
            "MEMBANK_REDIS_URL": redis_server.url(),
        }
    )
    return env


@pytest.fixture
def instances(
    launch: Callable[..., Any], cluster_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """Starts an API instance (no in-process workers) or a worker, each with a data dir of its own: nothing
    may be shared through local files."""
    count = 0

    def start(kind: str = "serve", **overrides: str) -> Any:
        nonlocal count
        count += 1
        data_dir = str(tmp_path / f"{kind}-{count}")
        extra = ["--no-workers"] if kind == "serve" else None
        return launch(kind, extra, MEMBANK_DATA_DIR=data_dir, **overrides)

    yield start


def _create(server: Any, user: str, content: str) -> str:
    response = server.client.post("/api/v1/memories", json={"user_id": user, "content": content})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _search(server: Any, user: str, query: str) -> list[str]:
    response = server.client.post("/api/v1/memories/search", json={"user_id": user, "query": query})
    assert response.status_code == 200, response.text
    return [hit["content"] for hit in response.json()["data"]["memories"]]


def _wait_for_outbox(server: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while server.client.get("/health").json()["data"]["outbox_pending"]:
        assert time.monotonic() < deadline, "the index outbox did not drain"
        time.sleep(0.1)


def test_a_memory_written_through_one_instance_is_found_through_another_right_away(
    instances: Callable[..., Any],
) -> None:
    a, b = instances(), instances()
    for i in range(20):
        _create(a, "ana", f"Ana's locker number is {1000 + i}")
        # No wait, no retry: B searches the shared index right after A's 201.
        assert _search(b, "ana", f"locker number {1000 + i}")[0] == f"Ana's locker number is {1000 + i}"
    memory_id = _create(b, "ana", "Ana prefers window seats")
    patched = a.client.patch(f"/api/v1/memories/{memory_id}", json={"content": "Ana prefers aisle seats"})
    assert patched.status_code == 200, patched.text
    assert _search(b, "ana", "which seats does Ana prefer")[0] == "Ana prefers aisle seats"
    current_id = patched.json()["data"]["id"]
    assert a.client.delete(f"/api/v1/memories/{current_id}").status_code in (200, 204)
    assert "Ana prefers aisle seats" not in _search(b, "ana", "which seats does Ana prefer")


def test_a_job_enqueued_on_one_instance_runs_on_a_worker_and_a_wait_on_another_sees_it_finish(
    instances: Callable[..., Any],
) -> None:
    a, b = instances(), instances()
    instances("worker")
    body = {"user_id": "ben", "session_id": "s1", "user_input": "I moved to Lisbon last week."}
    headers = {"Idempotency-Key": "ben-move-1"}
    accepted = a.client.post("/api/v1/memories/process-conversation", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    # The same request with its key, with wait=true, on B: B waits for the job that A queued.
    waited = b.client.post(
        "/api/v1/memories/process-conversation?wait=true", json=body, headers=headers, timeout=60
    )
    assert waited.status_code == 200, waited.text
    job = waited.json()["data"]
    assert job["id"] == accepted.json()["data"]["id"]
    assert job["status"] == "completed"
    # A standalone worker opens no index: its writes reach pgvector through the outbox a server applies.
    _wait_for_outbox(a)
    assert any("Lisbon" in text for text in _search(a, "ben", "where does ben live"))


def test_kill_9_of_a_worker_mid_batch_loses_nothing_and_two_others_finish_it(
    instances: Callable[..., Any],
) -> None:
    a, b = instances(**CHUNK), instances(**CHUNK)
    victim = instances("worker", **CHUNK)  # alone at first, so it is the one holding the batch
    count = 1500
    job_id = a.client.post(
        "/api/v1/memories/batch",
        json={"memories": [{"user_id": "bulk", "content": f"Bulk item number {i}"} for i in range(count)]},
    ).json()["data"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = b.client.get(f"/api/v1/jobs/{job_id}").json()["data"]
        if 0 < state["progress"]["done"] < count:
            break
        assert state["status"] != "completed", "the batch finished before it could be interrupted"
        time.sleep(0.02)
    victim.kill9()
    instances("worker", **CHUNK), instances("worker", **CHUNK)

    finished = b.wait_job(job_id, timeout=180)
    assert finished["status"] == "completed" and finished["attempts"] == 2
    assert finished["result"]["created"] == count
    contents = all_contents(a, "bulk")
    assert len(contents) == count and len(set(contents)) == count
    _wait_for_outbox(b)
    assert _search(b, "bulk", "Bulk item number 1499")[0] == "Bulk item number 1499"


def test_check_and_reindex_run_online_against_the_shared_index(
    instances: Callable[..., Any], cluster_env: dict[str, str]
) -> None:
    a, b = instances(), instances()
    for i in range(30):
        _create(a if i % 2 else b, "cleo", f"Cleo's fact number {i}")
    report = orjson.loads(run_cli(cluster_env, "check").stdout)
    assert report["consistent"] is True and report["records"] == 30 == report["indexed"]
    assert "reindexed 30 memories" in run_cli(cluster_env, "reindex").stdout
    assert _search(b, "cleo", "Cleo's fact number 17")[0] == "Cleo's fact number 17"
    assert _search(a, "cleo", "Cleo's fact number 3")[0] == "Cleo's fact number 3"
    repaired = orjson.loads(run_cli(cluster_env, "check", "--repair").stdout)
    assert repaired["consistent"] is True and repaired["rebuilt"] is False
    _create(a, "cleo", "Cleo wrote this after the maintenance commands")  # the instances served throughout
    assert _search(b, "cleo", "after the maintenance commands")[0].startswith("Cleo wrote this")


def test_a_reindex_beside_writing_and_searching_instances_loses_nothing(
    instances: Callable[..., Any], cluster_env: dict[str, str]
) -> None:
    a, b = instances(), instances()
    for i in range(120):
        _create(a if i % 2 else b, "gus", f"Gus stored seeded note {i}")
    command = subprocess.Popen(
        [str(BIN / "membank"), "reindex"],
        env=cluster_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written: list[str] = []
    try:
        while command.poll() is None:  # the instances keep serving while the rebuild runs
            number = len(written)
            _create(a, "gus", f"Gus added live note {number}")
            written.append(f"Gus added live note {number}")
            assert _search(b, "gus", "Gus stored seeded note 7")[0] == "Gus stored seeded note 7"
        out, err = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 0, err
    assert "reindexed" in out
    for content in written:
        assert _search(b, "gus", content)[0] == content
    report = orjson.loads(run_cli(cluster_env, "check").stdout)
    assert report["consistent"] is True and report["records"] == 120 + len(written), report


def test_a_second_maintenance_command_is_refused_while_one_runs(
    instances: Callable[..., Any], cluster_env: dict[str, str], postgres_url: str
) -> None:
    a = instances()
    _create(a, "finn", "Finn collects stamps")
    dim = int(cluster_env.get("MEMBANK_EMBEDDING_DIM", "384"))
    running = PgvectorIndex.connect(postgres_url, dim, maintenance=True)  # a `membank reindex` under way
    try:
        running.ping()
        for command in ("reindex", "check", "check --repair"):
            result = run_cli(cluster_env, *command.split(), check=False)
            assert_one_line_error(result, "another maintenance command", "wait for it to end")
    finally:
        running.close()
    assert orjson.loads(run_cli(cluster_env, "check").stdout)["consistent"] is True  # free once it ended
    assert _search(a, "finn", "stamps")[0] == "Finn collects stamps"


def _synthesize(server: Any, user: str, query: str) -> dict[str, Any]:
    response = server.client.post(
        "/api/v1/memories/synthesize-context", json={"user_id": user, "query": query}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_a_write_through_one_instance_invalidates_a_cached_synthesis_on_another(
    instances: Callable[..., Any],
) -> None:
    a, b = instances(), instances()
    _create(a, "dora", "Dora drinks green tea every morning")
    assert _synthesize(b, "dora", "what does dora drink")["cached"] is False
    assert _synthesize(b, "dora", "what does dora drink")["cached"] is True
    _create(a, "dora", "Dora drinks espresso after lunch")
    fresh = _synthesize(b, "dora", "what does dora drink")
    assert fresh["cached"] is False
    assert "espresso" in fresh["context"] and "green tea" in fresh["context"]


def test_requests_keep_succeeding_on_every_instance_while_redis_is_stopped(
    instances: Callable[..., Any], redis_server: RedisServer
) -> None:
    a, b = instances(), instances()
    _create(a, "eli", "Eli plays the cello")
    assert _search(b, "eli", "which instrument does eli play")[0] == "Eli plays the cello"
    redis_server.stop()
    for i, server in enumerate((a, b, a, b)):
        _create(server, "eli", f"Eli practised scale number {i}")
        assert _search(server, "eli", f"scale number {i}")[0] == f"Eli practised scale number {i}"
        assert _synthesize(server, "eli", "what does eli play")["context"]
    health = b.client.get("/health").json()["data"]
    assert health["components"]["redis"]["status"] == "degraded"
    redis_server.restart()
    _create(b, "eli", "Eli joined an orchestra")
    assert _search(a, "eli", "orchestra")[0] == "Eli joined an orchestra"


def _search_body(server: Any, user: str, query: str) -> dict[str, Any]:
    response = server.client.post("/api/v1/memories/search", json={"user_id": user, "query": query})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _index_status(server: Any) -> dict[str, Any]:
    component: dict[str, Any] = server.client.get("/health").json()["data"]["components"]["vector_index"]
    return component


@pytest.fixture
def app_role(postgres_server: PostgresServer, postgres_url: str) -> Iterator[str]:
    """A login role that is not a superuser (whose rights could not be taken away), allowed to create the
    schema in the test database; its name. Dropped after the test, with what it owns."""
    database = postgres_url.rsplit("/", 1)[1]
    role = f"membank_app_{uuid.uuid4().hex[:8]}"
    with postgres_server.connect(database) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT CREATE ON SCHEMA public TO "{role}"')
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")  # a superuser's part, see docs/storage.md
    yield role
    with postgres_server.connect(database) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
    with postgres_server.connect() as conn:
        conn.execute(f'DROP ROLE "{role}"')


def test_an_unavailable_index_keeps_writes_degrades_search_and_is_repaired_when_it_returns(
    app_role: str,  # first: set up before the instances, so dropped after they stopped
    instances: Callable[..., Any],
    cluster_env: dict[str, str],
    postgres_server: PostgresServer,
    postgres_url: str,
) -> None:
    # The index tables stay in place but the role may no longer use them (a botched GRANT, a permission
    # change): nothing the serving processes do brings them back (a dropped table would be recreated by the
    # maintainer within a probe), while PostgreSQL, the system of record, stays up.
    database = postgres_url.rsplit("/", 1)[1]
    app_url = postgres_url.replace("//postgres@", f"//{app_role}@", 1)
    env = {**cluster_env, "MEMBANK_DATABASE_URL": app_url}
    settings = {"MEMBANK_DATABASE_URL": app_url, "MEMBANK_INDEX_PROBE_SECONDS": "0.2"}

    def index_rights(statement: str) -> None:
        with postgres_server.connect(database) as conn:
            conn.execute(statement.format(tables="vector_index_documents, vector_index_terms", role=app_role))

    a, b = instances(**settings), instances(**settings)
    _create(a, "dora", "Dora keeps bees on the roof")
    before = _search_body(b, "dora", "bees on the roof")
    assert before["degraded"] is False and before["memories"][0]["content"] == "Dora keeps bees on the roof"

    written = [f"Dora planted outage tree number {i}" for i in range(10)]
    index_rights('REVOKE ALL ON {tables} FROM "{role}"')
    try:
        # Before any write meets the fault: each instance's probe finds it and /health says so.
        deadline = time.monotonic() + 10
        while not all(_index_status(server)["status"] == "degraded" for server in (a, b)):
            assert time.monotonic() < deadline, [_index_status(server) for server in (a, b)]
            time.sleep(0.05)
        for i, content in enumerate(written):
            _create(a if i % 2 else b, "dora", content)  # 201: in the system of record and the outbox
        for server in (a, b):
            assert server.proc.poll() is None
            component = _index_status(server)
            assert component["status"] == "degraded", component
            assert "may not use" in component["reason"] and app_role not in component["reason"]
            for content in (written[0], written[-1], "Dora keeps bees on the roof"):
                data = _search_body(server, "dora", content)
                assert data["degraded"] is True, data
                degradation = data["degradation"]
                assert degradation["fallback"] == "keyword" and degradation["complete"] is True
                assert data["memories"][0]["content"] == content
        assert a.client.get("/health").json()["data"]["outbox_pending"] == len(written)
    finally:
        index_rights('GRANT ALL ON {tables} TO "{role}"')

    deadline = time.monotonic() + 30
    while not all(_index_status(server)["status"] == "ok" for server in (a, b)):
        assert time.monotonic() < deadline, [_index_status(server) for server in (a, b)]
        time.sleep(0.1)
    _wait_for_outbox(a)
    for server in (a, b):
        for content in written:
            data = _search_body(server, "dora", content)
            assert data["degraded"] is False and data["degradation"] is None, data
            assert data["memories"][0]["content"] == content
    report = orjson.loads(run_cli(env, "check").stdout)
    assert report["consistent"] is True and report["records"] == 1 + len(written) == report["indexed"], report
