"""The vector index can never take the system of record down: real `membank serve` processes with an
unwritable, deleted or corrupt index keep running, acknowledge writes, report the index degraded, answer
search meanwhile with keyword search over the system of record marked `degraded` (so the writes acknowledged
meanwhile are found), and get their full search back by themselves or through `membank reindex` /
`membank check --repair`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e
FAST_PROBE = {"MEMBANK_INDEX_PROBE_SECONDS": "0.2"}


@pytest.fixture
def vectors(env: dict[str, str]) -> Iterator[Path]:
    path = Path(env["MEMBANK_DATA_DIR"]) / "vectors"
    yield path
    subprocess.run(["chattr", "-R", "-i", str(path.parent)], check=False, capture_output=True)


def _create(server: Any, content: str) -> str:
    response = server.client.post("/api/v1/memories", json={"user_id": "u1", "content": content})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _search(server: Any, query: str) -> Any:
    return server.client.post("/api/v1/memories/search", json={"user_id": "u1", "query": query})


def _found(server: Any, query: str) -> list[str]:
    response = _search(server, query)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["data"]["memories"]]


def _index_component(server: Any) -> dict[str, Any]:
    response = server.client.get("/health/ready")
    assert response.status_code == 200, response.text  # a derived index never makes the service unready
    component: dict[str, Any] = response.json()["data"]["components"]["vector_index"]
    return component


def _wait_index_ok(server: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        component = _index_component(server)
        if component["status"] == "ok":
            return component
        time.sleep(0.1)
    raise AssertionError(f"the index did not recover: {_index_component(server)}")


def _degraded_search(server: Any, query: str, **options: Any) -> list[str]:
    """The contents a degraded search finds; asserts it says it is degraded, and why."""
    response = server.client.post(
        "/api/v1/memories/search", json={"user_id": "u1", "query": query, **options}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["degraded"] is True, data
    degradation = data["degradation"]
    assert degradation["fallback"] == "keyword" and degradation["reason"] and degradation["complete"]
    assert degradation["index_status"] in ("degraded", "rebuilding", "error")
    return [m["content"] for m in data["memories"]]


def _corrupt_wal(vectors: Path) -> None:
    with (vectors / "wal" / "open-1").open("r+b") as wal:
        wal.write(os.urandom(4096))


def test_unwritable_index_keeps_the_server_up_and_recovers(launch: Callable[..., Any], vectors: Path) -> None:
    server = launch(**FAST_PROBE)
    _create(server, "User likes green tea")
    assert _found(server, "green tea") == ["User likes green tea"]
    try:
        subprocess.run(["chattr", "-R", "+i", str(vectors)], check=True)
        memory_id = _create(server, "User plays the cello")  # was SIGBUS (exit 135) of the whole server
        assert server.proc.poll() is None
        component = _index_component(server)
        assert component["status"] == "degraded" and "not writable" in component["reason"]
        # The write acknowledged while the index is down is found by the keyword fallback, with filters.
        assert _degraded_search(server, "cello") == ["User plays the cello"]
        assert _degraded_search(server, "green tea cello") == ["User likes green tea", "User plays the cello"]
        tagged_only = {"field": "memory_type", "op": "eq", "value": "episodic"}
        assert _degraded_search(server, "cello", filters=tagged_only) == []
        context = server.client.post(
            "/api/v1/memories/synthesize-context", json={"user_id": "u1", "query": "cello", "use_cache": True}
        )
        assert context.status_code == 200, context.text
        body = context.json()["data"]
        assert body["degraded"] is True and [m["content"] for m in body["memories"]] == [
            "User plays the cello"
        ]
        assert server.client.get(f"/api/v1/memories/{memory_id}").status_code == 200
    finally:
        subprocess.run(["chattr", "-R", "-i", str(vectors)], check=True)
    _wait_index_ok(server)
    assert _found(server, "cello")[0] == "User plays the cello"
    assert server.client.get("/health").json()["data"]["outbox_pending"] == 0
    recovered = _search(server, "cello").json()["data"]
    assert recovered["degraded"] is False and recovered["degradation"] is None
    # The degraded context was not cached: the same request now gets the full search.
    again = server.client.post(
        "/api/v1/memories/synthesize-context", json={"user_id": "u1", "query": "cello", "use_cache": True}
    ).json()["data"]
    assert again["degraded"] is False and again["cached"] is False


def test_index_deleted_under_a_running_server_is_rebuilt(launch: Callable[..., Any], vectors: Path) -> None:
    server = launch(**FAST_PROBE)
    _create(server, "User lives in Lisbon")
    _create(server, "User works as a nurse")
    # Gone in one step (a rename, then deleted): the server may recreate the path while rmtree still runs.
    gone = vectors.with_name("gone")
    vectors.rename(gone)
    shutil.rmtree(gone)
    deadline = time.monotonic() + 60
    while not (vectors / "edge_config.json").exists() or _index_component(server)["status"] != "ok":
        assert time.monotonic() < deadline, f"not rebuilt: {_index_component(server)}"
        time.sleep(0.1)
    repair = _index_component(server)["last_repair"]
    assert repair["action"] == "rebuild" and "deleted" in repair["reason"] and repair["documents"] == 2
    assert _found(server, "Lisbon")[0] == "User lives in Lisbon"
    _create(server, "User owns a bicycle")
    server.stop()
    again = launch()  # what was rebuilt, and written after, is on disk
    assert _found(again, "bicycle")[0] == "User owns a bicycle"
    assert _found(again, "nurse")[0] == "User works as a nurse"


def test_index_deleted_while_stopped_is_never_served_empty(launch: Callable[..., Any], vectors: Path) -> None:
    server = launch()
    for i in range(30):
        _create(server, f"User fact number {i}")
    server.stop()
    shutil.rmtree(vectors)
    again = launch(**FAST_PROBE)
    # Right after start-up the index is empty and being repaired: search is degraded, never empty.
    component = _index_component(again)
    response = _search(again, "fact number 7")
    assert response.status_code == 200, response.text
    contents = [m["content"] for m in response.json()["data"]["memories"]]
    assert contents, f"search served empty while the index reported {component}"
    assert "User fact number 7" in contents
    repair = _wait_index_ok(again)["last_repair"]
    assert repair["action"] == "repair" and "holds 0 documents" in repair["reason"]


def test_corrupt_index_never_blocks_start_up_and_is_set_aside_and_rebuilt(
    launch: Callable[..., Any], vectors: Path
) -> None:
    server = launch()
    _create(server, "User speaks Portuguese")
    _create(server, "User is allergic to peanuts")
    server.stop()
    _corrupt_wal(vectors)
    subprocess.run(["chattr", "+i", str(vectors)], check=True)  # the rebuild waits until it can set it aside
    try:
        again = launch(**FAST_PROBE)  # start-up failed here before ("cannot open the vector index")
        component = _index_component(again)
        assert component["status"] in ("degraded", "rebuilding") and component["reason"]
        assert _degraded_search(again, "peanuts") == ["User is allergic to peanuts"]
        _create(again, "User collects stamps")  # acknowledged meanwhile, and found meanwhile
        assert _degraded_search(again, "stamps") == ["User collects stamps"]
    finally:
        subprocess.run(["chattr", "-i", str(vectors)], check=True)
    repair = _wait_index_ok(again)["last_repair"]
    assert repair["action"] == "rebuild" and "cannot open" in repair["reason"] and repair["documents"] == 3
    kept = Path(repair["kept"])
    assert kept.name.startswith("vectors.corrupt-") and (kept / "wal" / "open-1").exists()
    assert _found(again, "peanuts")[0] == "User is allergic to peanuts"
    assert _found(again, "stamps")[0] == "User collects stamps"


def test_reindex_and_check_repair_work_on_a_corrupt_index(
    launch: Callable[..., Any], env: dict[str, str], vectors: Path
) -> None:
    server = launch()
    _create(server, "User drinks oat milk")
    server.stop()
    _corrupt_wal(vectors)
    found = run_cli(env, "check", check=False)
    assert found.returncode == 1
    report = orjson.loads(found.stdout)
    assert report["consistent"] is False and "cannot open" in report["unavailable"]
    repaired = orjson.loads(run_cli(env, "check", "--repair").stdout)
    assert repaired["rebuilt"] is True and repaired["indexed"] == 1 and "vectors.corrupt-" in repaired["kept"]
    assert orjson.loads(run_cli(env, "check").stdout)["consistent"] is True
    _corrupt_wal(vectors)
    assert "set aside" in run_cli(env, "reindex").stdout
    again = launch()
    assert _found(again, "oat milk")[0] == "User drinks oat milk"


def test_stopping_with_an_unwritable_index_exits_cleanly_and_the_restart_catches_up(
    launch: Callable[..., Any], vectors: Path
) -> None:
    server = launch(**FAST_PROBE)
    _create(server, "User likes green tea")
    try:
        subprocess.run(["chattr", "-R", "+i", str(vectors)], check=True)
        _create(server, "User plays the cello")
        server.stop()  # closing the shard would fault on its mapped files: it is left to the OS
        assert server.proc.returncode == -signal.SIGTERM, server.output()[-2000:]
    finally:
        subprocess.run(["chattr", "-R", "-i", str(vectors)], check=True)
    again = launch()
    _wait_index_ok(again)
    assert _found(again, "cello")[0] == "User plays the cello"
