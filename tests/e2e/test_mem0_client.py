"""mem0's own Python client (mem0ai's MemoryClient) pointed at a real `membank serve`: its documented calls
work on MemBank's services, with MemBank's keys, scopes and tenancy (docs/mem0-compatibility.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ADMIN_KEY, Served, served_module

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_module(tmp_path_factory.mktemp("mem0")) as module_server:
        yield module_server


@pytest.fixture(scope="module")
def client_class(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # mem0 reads these when imported: no telemetry sent anywhere, its config file in a scratch directory.
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ["MEM0_DIR"] = str(tmp_path_factory.mktemp("mem0-home"))
    from mem0 import MemoryClient

    return MemoryClient


def test_the_documented_calls_work_end_to_end(server: Served, client_class: Any) -> None:
    mem0 = client_class(api_key=ADMIN_KEY, host=server.url)
    added = mem0.add(
        [
            {"role": "user", "content": "I am allergic to peanuts"},
            {"role": "assistant", "content": "Noted, no peanuts."},
        ],
        user_id="alice",
        metadata={"source": "onboarding"},
        infer=False,
    )
    assert [r["event"] for r in added["results"]] == ["ADD", "ADD"]
    first = added["results"][0]["id"]
    fetched = mem0.get(first)
    assert (fetched["memory"], fetched["user_id"], fetched["metadata"]) == (
        "I am allergic to peanuts",
        "alice",
        {"source": "onboarding"},
    )
    found = mem0.search("is alice allergic to anything?", filters={"user_id": "alice"}, top_k=5)
    assert found["results"][0]["id"] == first and 0 < found["results"][0]["score"] <= 1
    listed = mem0.get_all(filters={"user_id": "alice"}, page=1, page_size=1)
    assert listed["count"] == 2 and len(listed["results"]) == 1 and listed["next"] and not listed["previous"]

    updated = mem0.update(first, text="I am allergic to peanuts and cashews")
    assert updated["memory"] == "I am allergic to peanuts and cashews" and updated["id"] != first
    assert mem0.get(first)["superseded_by"] == updated["id"]
    events = [entry["event"] for entry in mem0.history(updated["id"])]
    assert events[0] == "ADD" and "UPDATE" in events
    assert mem0.get_all(filters={"user_id": "alice"})["count"] == 2

    assert mem0.delete(updated["id"])["message"]
    assert mem0.get_all(filters={"user_id": "alice"})["count"] == 1
    mem0.delete_all(user_id="alice")
    assert mem0.get_all(filters={"user_id": "alice"})["count"] == 0
    assert mem0.search("peanuts", filters={"user_id": "alice"})["results"] == []
    # Deleted is not erased: the history still tells what was there.
    assert mem0.history(first)[0]["new_memory"] == "I am allergic to peanuts"


def test_add_with_infer_extracts_facts_from_the_conversation(server: Served, client_class: Any) -> None:
    mem0 = client_class(api_key=ADMIN_KEY, host=server.url)
    added = mem0.add(
        [
            {"role": "user", "content": "I moved to Lisbon last week and I work as a nurse"},
            {"role": "assistant", "content": "Congratulations on the move!"},
        ],
        user_id="carol",
        run_id="onboarding-1",
    )
    texts = [r["memory"] for r in added["results"] if r["event"] == "ADD"]
    assert any("Lisbon" in text for text in texts), added
    found = mem0.search(
        "where does carol live?", filters={"AND": [{"user_id": "carol"}, {"run_id": "onboarding-1"}]}
    )
    assert any("Lisbon" in r["memory"] for r in found["results"])
    assert all(r["run_id"] == "onboarding-1" for r in found["results"])
    elsewhere = mem0.search("where does carol live?", filters={"user_id": "carol", "run_id": "another-run"})
    assert elsewhere["results"] == []


def test_keys_scopes_and_tenants_hold(server: Served, client_class: Any) -> None:
    from mem0.exceptions import MemoryNotFoundError, ValidationError

    with pytest.raises(ValueError):
        client_class(api_key="not-a-key-of-this-server", host=server.url)
    owner = client_class(api_key=ADMIN_KEY, host=server.url)
    secret = owner.add("Dave's locker code is 4711", user_id="dave", infer=False)["results"][0]["id"]

    intruder = client_class(api_key=server.key("globex"), host=server.url)
    with pytest.raises(MemoryNotFoundError):
        intruder.get(secret)
    with pytest.raises(MemoryNotFoundError):
        intruder.delete(secret)
    assert intruder.search("locker code", filters={"user_id": "dave"})["results"] == []
    intruder.delete_all(user_id="dave")
    assert owner.get(secret)["memory"] == "Dave's locker code is 4711"

    reader = client_class(api_key=server.key("default", "memories:read"), host=server.url)
    assert reader.get(secret)["id"] == secret
    with pytest.raises(Exception) as refused:
        reader.add("sneaky write", user_id="dave", infer=False)
    assert "403" in str(refused.value) or getattr(refused.value, "error_code", "") == "HTTP_403"
    assert owner.get_all(filters={"user_id": "dave"})["count"] == 1

    with pytest.raises(ValidationError):
        owner.get_all(filters={"AND": [{"user_id": "dave"}, {"created_at": {"gte": "2024-01-01"}}]})
    with pytest.raises(ValidationError):
        owner.add("graph me", user_id="dave", enable_graph=True)
    with pytest.raises(ValidationError):
        owner.search("no user", filters={"agent_id": "helper"})
    assert owner.get_all(filters={"user_id": "dave"})["count"] == 1


def test_answers_without_a_key_are_refused(server: Served) -> None:
    import httpx

    for method, path in [("GET", "/v1/ping/"), ("POST", "/v3/memories/search/"), ("DELETE", "/v1/memories/")]:
        answer = httpx.request(method, f"{server.url}{path}", params={"user_id": "dave"})
        assert answer.status_code == 401, (method, path, answer.text)
    assert ADMIN_KEY not in server.server.output()
