"""The service as a client sees it: real process, real HTTP, the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import ADMIN_KEY, run_cli

pytestmark = pytest.mark.e2e


def test_second_tenant_cannot_reach_the_first(launch: Callable[..., Any], env: dict[str, str]) -> None:
    server = launch()
    other_key = run_cli(env, "keys", "create", "--tenant", "globex", "--name", "intruder").stdout.strip()
    memory = server.client.post(
        "/api/v1/memories", json={"user_id": "u1", "content": "Default tenant secret"}
    )
    memory_id = memory.json()["data"]["id"]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": other_key}) as other:
        assert other.get(f"/api/v1/memories/{memory_id}").status_code == 404
        assert other.patch(f"/api/v1/memories/{memory_id}", json={"content": "x"}).status_code == 404
        assert other.delete(f"/api/v1/memories/{memory_id}").status_code == 404
        found = other.post("/api/v1/memories/search", json={"user_id": "u1", "query": "secret"}).json()
        assert found["data"]["memories"] == []
    still = server.client.get(f"/api/v1/memories/{memory_id}").json()["data"]
    assert still["content"] == "Default tenant secret" and still["valid_to"] is None


def test_bad_requests_over_http_change_nothing(launch: Callable[..., Any]) -> None:
    server = launch()
    c = server.client
    malformed = c.post("/api/v1/memories", content=b"{nope", headers={"Content-Type": "application/json"})
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    wrong = c.post("/api/v1/memories", json={"user_id": "u1", "content": 42})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"]["errors"][0]["field"] == "content"
    huge = c.post("/api/v1/memories", json={"user_id": "u1", "content": "x" * (9 * 1024 * 1024)})
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    unknown = c.get("/api/v1/memories/11111111-2222-3333-4444-555555555555")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "MEMORY_NOT_FOUND")
    bad_filter = c.post(
        "/api/v1/memories/search",
        json={"user_id": "u1", "query": "q", "filters": {"field": "importance", "op": "~", "value": 1}},
    )
    assert (
        bad_filter.status_code == 400
        and bad_filter.json()["error"]["details"]["errors"][0]["field"] == "filters.op"
    )
    no_key = httpx.get(f"{server.url}/api/v1/users/u1/memories")
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (401, "UNAUTHORIZED")
    assert c.get("/api/v1/users/u1/memories").json()["data"]["total"] == 0
    assert ADMIN_KEY not in server.output()


def test_cli_add_search_import_and_maintenance(
    launch: Callable[..., Any], env: dict[str, str], tmp_path: Path
) -> None:
    server = launch()
    client_env = {**env, "MEMBANK_API_URL": server.url, "MEMBANK_API_KEY": ADMIN_KEY}
    added = orjson.loads(
        run_cli(
            client_env, "add", "--user", "cli", "--type", "preference", "User prefers aisle seats on flights"
        ).stdout
    )
    assert added["memory_type"] == "preference"
    lines = [orjson.dumps({"user_id": "cli", "content": f"Imported note {i}"}).decode() for i in range(25)]
    lines.append(orjson.dumps({"user_id": "cli", "content": "User prefers aisle seats on flights"}).decode())
    source = tmp_path / "memories.jsonl"
    source.write_text("\n".join(lines) + "\n")
    imported = run_cli(client_env, "import", "--batch-size", "10", "--skip-duplicates", str(source)).stdout
    assert "imported 25 memories, skipped 1" in imported
    found = run_cli(client_env, "search", "--user", "cli", "which seat does the user like").stdout
    assert found.splitlines()[0].endswith("User prefers aisle seats on flights")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"user_id": "cli", "content": "ok"}\n{broken\n')
    failed = run_cli(client_env, "import", str(bad), check=False)
    assert failed.returncode != 0 and "bad.jsonl:2" in failed.stderr
    server.stop()
    assert "reindexed 26 memories" in run_cli(env, "reindex").stdout
    report = orjson.loads(run_cli(env, "check").stdout)
    assert report == {
        "consistent": True,
        "records": 26,
        "indexed": 26,
        "missing": 0,
        "stale": 0,
        "orphaned": 0,
        "repaired": False,
        "unavailable": None,
        "rebuilt": False,
        "kept": None,
    }


def test_first_start_prints_a_generated_admin_key_once(
    launch: Callable[..., Any], env: dict[str, str]
) -> None:
    del env["MEMBANK_ADMIN_API_KEY"]
    server = launch(MEMBANK_ADMIN_API_KEY="")
    marker = "Generated the admin API key (shown once, store it now): "
    line = next(line for line in server.output().splitlines() if marker in line)
    key = line.split(marker)[1].strip()
    response = httpx.get(f"{server.url}/api/v1/users/u1/memories", headers={"X-API-Key": key})
    assert response.status_code == 200
    server.stop()
    again = launch(MEMBANK_ADMIN_API_KEY="")
    assert marker not in again.output()
    listed = run_cli({**env}, "keys", "list").stdout
    assert "admin (generated)" in listed and key not in listed
