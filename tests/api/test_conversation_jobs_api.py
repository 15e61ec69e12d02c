"""Conversation jobs through the HTTP API: concurrency, batches, inferred creates, strategies, bad input, tenancy."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from membank.config import Settings
from tests.api.conftest import Api, open_api
from tests.api.test_conversations_api import current, events, exchange


def wait_batch(api: Api, batch_id: str, key: str | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        data: dict[str, Any] = api.call("GET", f"/api/v1/batches/{batch_id}", key).json()["data"]
        if data["status"] not in ("queued", "processing") or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_concurrent_jobs_for_one_user_leave_no_duplicates(make_settings: Callable[..., Settings]) -> None:
    statements = ["I am allergic to peanuts.", "I play the cello in an orchestra.", "I live in Oslo."]
    with open_api(make_settings(workers=4)) as api:

        def send(_: int) -> dict[str, Any]:
            return exchange(api, " ".join(statements))

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(send, range(8)))
        memories = current(api)
    assert len(memories) == len(set(memories)), memories
    added = sum(r["counts"]["ADD"] for r in results)
    assert added == len(memories) >= 2
    assert sum(r["counts"]["NOOP"] for r in results) == sum(len(r["actions"]) for r in results) - added


def test_action_shape_and_provenance(api: Api) -> None:
    result = exchange(api, "I work at Acme as a designer.", session_id="s9", timestamp="2025-01-02T09:00:00Z")
    assert result["extractor"] == "heuristic" and result["usage"] is None
    action = result["actions"][0]
    assert set(action) == {"event", "memory_id", "old", "new", "reason", "source"}
    assert action["source"]["session_id"] == "s9" and action["source"]["speaker"] == "user"
    assert action["source"]["messages"][0]["message_index"] == 0
    memory = api.call("GET", f"/api/v1/memories/{action['memory_id']}").json()["data"]
    assert memory["session_id"] == "s9" and memory["metadata"]["extractor"] == "heuristic"


def test_conversation_batch_runs_one_job_per_conversation(api: Api) -> None:
    body = {
        "user_id": "u2",
        "conversations": [
            {
                "session_id": "a",
                "timestamp": "2024-06-01T10:00:00Z",
                "messages": [
                    {"role": "user", "content": "I just adopted a cat named Miso.", "id": "m1"},
                    {"role": "assistant", "content": "Congratulations on Miso!", "id": "m2"},
                ],
            },
            {
                "session_id": "b",
                "messages": [{"role": "user", "content": "How are you today?", "id": "m3"}],
            },
        ],
        "options": {"priority": 3},
    }
    response = api.call("POST", "/api/v1/memories/batch", json=body)
    assert response.status_code == 202, response.text
    accepted = response.json()["data"]
    assert accepted["job_count"] == 2 and len(accepted["job_ids"]) == 2
    batch = wait_batch(api, accepted["batch_id"])
    assert batch["status"] == "completed", batch
    assert batch["jobs_by_status"] == {"completed": 2}
    assert batch["counts"]["ADD"] == 1
    assert all(job["priority"] == 3 for job in batch["jobs"])
    page = api.call("GET", "/api/v1/users/u2/memories").json()["data"]
    assert [m["source_refs"][0]["message_id"] for m in page["memories"]] == ["m1"]
    assert page["memories"][0]["valid_from"].startswith("2024-06-01")


def test_batch_input_errors_change_nothing(api: Api) -> None:
    both = {
        "user_id": "u1",
        "memories": [{"user_id": "u1", "content": "x"}],
        "conversations": [{"messages": [{"role": "user", "content": "I like tea."}]}],
    }
    assert api.call("POST", "/api/v1/memories/batch", json=both).status_code == 400
    no_user = {"conversations": [{"messages": [{"role": "user", "content": "I like tea."}]}]}
    assert api.call("POST", "/api/v1/memories/batch", json=no_user).status_code == 400
    bad_role = {
        "user_id": "u1",
        "conversations": [{"messages": [{"role": "robot", "content": "I like tea."}]}],
    }
    response = api.call("POST", "/api/v1/memories/batch", json=bad_role)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "conversations[0].messages[0].role"
    assert current(api) == []


def test_inferred_create_extracts_instead_of_storing(api: Api) -> None:
    response = api.call(
        "POST",
        "/api/v1/memories?wait=true",
        json={
            "user_id": "u1",
            "content": "I moved to Lisbon last week.",
            "infer": True,
            "valid_from": "2024-02-14T12:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    job = response.json()["data"]
    assert job["kind"] == "process_conversation" and events(job["result"]) == ["ADD"]
    assert current(api) == ["User moved to Lisbon the week of 5 February 2024."]
    with_context = api.call(
        "POST",
        "/api/v1/memories",
        json={
            "user_id": "u1",
            "content": "Yes, that's right.",
            "context": {"recent_messages": [{"role": "assistant", "content": "Do you have a dog?"}]},
        },
    )
    assert with_context.status_code == 202
    assert with_context.headers["Location"] == f"/api/v1/jobs/{with_context.json()['data']['id']}"


def test_merge_strategy_skip_keeps_the_stored_value(api: Api) -> None:
    exchange(api, "I live in Paris.")
    kept = exchange(api, "I live in Rome.", options={"merge_strategy": "skip"})
    assert events(kept) == ["NOOP"] and "merge_strategy=skip" in kept["actions"][0]["reason"]
    assert current(api) == ["User lives in Paris."]


def test_older_news_does_not_retire_a_newer_value_and_is_kept_as_history(api: Api) -> None:
    exchange(api, "I live in Rome.", timestamp="2025-05-01T00:00:00Z")
    late = exchange(api, "I live in Paris.", timestamp="2020-05-01T00:00:00Z")
    assert events(late) == ["ADD"] and "earlier value" in late["actions"][0]["reason"]
    assert current(api) == ["User lives in Rome."]
    paris = api.call("GET", f"/api/v1/memories/{late['actions'][0]['memory_id']}").json()["data"]
    assert paris["valid_from"].startswith("2020-05-01") and paris["valid_to"].startswith("2025-05-01")
    then = api.search("where does the user live", as_of="2021-01-01T00:00:00Z").json()["data"]["memories"]
    assert [m["content"] for m in then] == ["User lives in Paris."]


def test_a_correction_in_the_same_breath_updates(api: Api) -> None:
    result = exchange(
        api, "I live in Paris. Oh wait, I moved to Berlin last month.", timestamp="2026-03-10T10:00:00Z"
    )
    assert events(result) == ["ADD", "UPDATE"]
    assert current(api) == ["User moved to Berlin in February 2026."]


def test_retraction_is_scoped_to_its_slot_and_values(api: Api) -> None:
    exchange(api, "I live in Paris.")
    assert events(exchange(api, "I no longer work in Paris.")) == ["NOOP"]
    exchange(api, "I play tennis on Mondays.")
    exchange(api, "I play tennis on Fridays.")
    retired = exchange(api, "I don't play tennis on Mondays anymore.")
    assert events(retired) == ["DELETE"]
    assert "Mondays" in retired["actions"][0]["old"]
    remaining = current(api)
    assert "User lives in Paris." in remaining and any("Fridays" in m for m in remaining), remaining


def test_negation_and_changed_numbers_are_not_paraphrases(api: Api) -> None:
    exchange(api, "I like jazz.")
    denied = exchange(api, "I don't like jazz.")
    assert events(denied) == ["UPDATE"] and denied["actions"][0]["reason"] == "contradicts a known fact"
    assert current(api) == ["User doesn't like jazz."]
    exchange(api, "I have two kids.")
    assert events(exchange(api, "I have three kids.")) != ["NOOP"]


def test_retraction_closes_the_fact_when_it_was_said(api: Api) -> None:
    exchange(api, "I work at Acme.", timestamp="2023-01-10T00:00:00Z")
    exchange(api, "I no longer work at Acme.", timestamp="2023-06-10T00:00:00Z")
    page = api.call("GET", "/api/v1/users/u1/memories?include_invalid=true").json()["data"]["memories"]
    assert page[0]["valid_to"].startswith("2023-06-10") and page[0]["deleted_at"] is not None
    during = api.search("where does the user work", as_of="2023-03-01T00:00:00Z").json()["data"]["memories"]
    after = api.search("where does the user work", as_of="2024-01-01T00:00:00Z").json()["data"]["memories"]
    assert [m["content"] for m in during] == ["User works at Acme."] and after == []


def test_bad_exchange_input_is_rejected_with_its_field(api: Api) -> None:
    url = "/api/v1/memories/process-conversation"
    bad_user = api.call("POST", url, json={"user_id": "no spaces allowed", "user_input": "I like tea."})
    assert bad_user.status_code == 400 and bad_user.json()["error"]["code"] == "INVALID_USER_ID"
    missing = api.call("POST", url, json={"user_id": "u1"})
    assert missing.json()["error"]["details"]["errors"][0]["field"] == "user_input"
    extra = api.call("POST", url, json={"user_id": "u1", "user_input": "I like tea.", "surprise": 1})
    assert extra.status_code == 400
    strategy = api.call(
        "POST",
        url,
        json={"user_id": "u1", "user_input": "I like tea.", "options": {"merge_strategy": "yolo"}},
    )
    assert strategy.json()["error"]["details"]["errors"][0]["field"] == "options.merge_strategy"
    assert (
        api.call("POST", url, api.reader_key, json={"user_id": "u1", "user_input": "I like tea."}).status_code
        == 403
    )
    assert current(api) == []


def test_tenants_cannot_see_each_others_batches_sessions_or_facts(api: Api) -> None:
    exchange(api, "I live in Paris.", session_id="shared")
    body = {
        "user_id": "u1",
        "conversations": [{"messages": [{"role": "user", "content": "I live in Rome."}]}],
    }
    accepted = api.call("POST", "/api/v1/memories/batch", api.bob_key, json=body).json()["data"]
    assert wait_batch(api, accepted["batch_id"], api.bob_key)["status"] == "completed"
    assert api.call("GET", f"/api/v1/batches/{accepted['batch_id']}").status_code == 404
    assert api.call("GET", "/api/v1/users/u1/sessions/shared", api.bob_key).status_code == 404
    assert current(api) == ["User lives in Paris."]


def test_one_users_conversations_are_consolidated_in_the_order_sent(
    make_settings: Callable[..., Settings],
) -> None:
    sessions = [("a", "I live in Paris."), ("b", "I moved to Berlin."), ("c", "I moved to Rome.")]
    body = {
        "user_id": "u1",
        "conversations": [
            {"session_id": s, "messages": [{"role": "user", "content": text}]} for s, text in sessions
        ],
    }
    with open_api(make_settings(workers=4)) as api:
        accepted = api.call("POST", "/api/v1/memories/batch", json=body).json()["data"]
        batch = wait_batch(api, accepted["batch_id"])
        assert batch["counts"] == {"ADD": 1, "UPDATE": 2, "DELETE": 0, "NOOP": 0}, batch
        jobs = sorted(batch["jobs"], key=lambda job: job["started_at"])
        assert [job["id"] for job in jobs] == accepted["job_ids"]
        assert all(a["finished_at"] <= b["started_at"] for a, b in itertools.pairwise(jobs))
        assert current(api) == ["User moved to Rome."]


def test_a_memory_created_with_a_slot_is_superseded_by_a_conversation_fact(api: Api) -> None:
    created = api.add("User lives in Paris", slot="user/residence", valid_from="2025-01-01T00:00:00Z")
    assert created["slot"] == "user/residence"
    moved = exchange(api, "I moved to Berlin.")
    assert events(moved) == ["UPDATE"] and moved["actions"][0]["old"] == "User lives in Paris"
    assert current(api) == ["User moved to Berlin."]
    bad = api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": "x", "slot": "Residence"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["errors"][0]["field"] == "slot"
