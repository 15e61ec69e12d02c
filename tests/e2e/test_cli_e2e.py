"""The real `membank` console script: errors are one readable line, keys are listed with their tenant, and a
key revoked from another process is refused by a running server on its very next request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import assert_one_line_error, free_port, run_cli

pytestmark = pytest.mark.e2e


def test_commands_against_a_stopped_server_print_one_line(env: dict[str, str], tmp_path: Path) -> None:
    nowhere = {**env, "MEMBANK_API_URL": f"http://127.0.0.1:{free_port()}", "MEMBANK_API_KEY": "k"}
    memories = tmp_path / "memories.jsonl"
    memories.write_text('{"user_id": "u1", "content": "User likes tea"}\n')
    for args in (
        ("add", "--user", "u1", "User likes tea"),
        ("search", "--user", "u1", "tea"),
        ("import", str(memories)),
    ):
        result = run_cli(nowhere, *args, check=False)
        assert_one_line_error(result, "cannot reach the MemBank server", "membank serve", "MEMBANK_API_URL")


def test_bad_settings_and_urls_print_one_line(env: dict[str, str]) -> None:
    result = run_cli({**env, "MEMBANK_PORT": "eighty"}, "add", "--user", "u1", "x", check=False)
    assert_one_line_error(result, "invalid settings", "MEMBANK_PORT")
    result = run_cli({**env, "MEMBANK_API_URL": "localhost:8080"}, "search", "--user", "u1", "x", check=False)
    assert_one_line_error(result, "MEMBANK_API_URL", "http://127.0.0.1:8080")


def test_check_and_reindex_while_the_server_holds_the_index(
    launch: Callable[..., Any], env: dict[str, str]
) -> None:
    server = launch()
    created = server.client.post(
        "/api/v1/memories", json={"user_id": "u1", "content": "User likes green tea"}
    )
    assert created.status_code == 201, created.text
    for command in ("check", "reindex", "check --repair"):
        result = run_cli(env, *command.split(), check=False)
        assert_one_line_error(result, "in use by another process", "stop the `membank serve`")
    # the server was not disturbed: its index files were neither deleted nor set aside
    assert server.client.get("/health/ready").json()["data"]["status"] == "ok"
    found = server.client.post("/api/v1/memories/search", json={"user_id": "u1", "query": "green tea"})
    assert found.status_code == 200, found.text
    assert [hit["id"] for hit in found.json()["data"]["memories"]] == [created.json()["data"]["id"]]


def test_a_rejected_key_is_one_line_naming_the_setting(
    launch: Callable[..., Any], env: dict[str, str]
) -> None:
    server = launch()
    client_env = {**env, "MEMBANK_API_URL": server.url, "MEMBANK_API_KEY": "mbk_000000000000_wrong"}
    result = run_cli(client_env, "add", "--user", "u1", "User likes tea", check=False)
    assert_one_line_error(result, "401 UNAUTHORIZED", "MEMBANK_API_KEY")


def test_keys_list_shows_each_keys_tenant(env: dict[str, str]) -> None:
    run_cli(env, "keys", "create", "--tenant", "acme", "--name", "ingest")
    run_cli(env, "keys", "create", "--tenant", "globex", "--name", "reader", "--scopes", "memories:read")
    lines = run_cli(env, "keys", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "PREFIX", "TENANT", "STATE", "SCOPES", "NAME"]
    rows = {line.split()[-1]: line.split() for line in lines[1:]}
    assert rows["ingest"][2:4] == ["acme", "active"]
    assert rows["reader"][2:5] == ["globex", "active", "memories:read"]
    only_acme = run_cli(env, "keys", "list", "--tenant", "acme").stdout.splitlines()
    assert len(only_acme) == 2 and only_acme[1].split()[2] == "acme"


def test_a_key_revoked_in_another_process_is_refused_on_the_next_request(
    launch: Callable[..., Any], env: dict[str, str]
) -> None:
    server = launch()
    key = run_cli(env, "keys", "create", "--tenant", "acme", "--name", "agent").stdout.strip()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=10) as agent:
        assert agent.get("/api/v1/users/u1/memories").status_code == 200
        revoked = run_cli(env, "keys", "revoke", key.split("_")[1])
        assert revoked.stdout.startswith("revoked")
        refused = agent.get("/api/v1/users/u1/memories")
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "UNAUTHORIZED"
        refused_write = agent.post("/api/v1/memories", json={"user_id": "u1", "content": "User likes tea"})
        assert refused_write.status_code == 401
    state = {
        line.split()[-1]: line.split()[3] for line in run_cli(env, "keys", "list").stdout.splitlines()[1:]
    }
    assert state["agent"] == "revoked"
