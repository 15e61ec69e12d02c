"""/metrics after a scenario: the memory, search and audit counters move by exactly what was done (the
registry is per process, so the test compares before and after)."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.metrics_support import moved, samples


def _exchange(api: Api, user_input: str, timestamp: str) -> None:
    body = {"user_id": "u1", "session_id": "s1", "user_input": user_input, "timestamp": timestamp}
    done = api.call("POST", "/api/v1/memories/process-conversation?wait=true", json=body)
    assert done.status_code == 200 and done.json()["data"]["status"] == "completed", done.text


def test_memory_search_and_audit_counters_move_by_what_was_done(api: Api) -> None:
    before = samples(api)
    first, second = api.add("alice likes green tea"), api.add("alice owns a red bicycle")
    assert api.call("PATCH", f"/api/v1/memories/{first['id']}", json={"importance": 9}).status_code == 200
    edited = api.call("PATCH", f"/api/v1/memories/{second['id']}", json={"content": "alice owns a blue bike"})
    assert edited.status_code == 200, edited.text
    assert api.call("DELETE", f"/api/v1/memories/{first['id']}").status_code == 200
    third = api.add("alice reads at night")
    assert api.call("DELETE", f"/api/v1/memories/{third['id']}?hard=true").status_code == 200
    batch = {"memories": [{"user_id": "u1", "content": f"alice fact {n}"} for n in range(3)]}
    done = api.call("POST", "/api/v1/memories/batch?wait=true", json=batch)
    assert done.status_code == 200 and done.json()["data"]["status"] == "completed", done.text
    _exchange(api, "I live in Paris.", "2026-01-05T09:00:00Z")
    _exchange(api, "I moved to Berlin.", "2026-03-05T09:00:00Z")
    for query in ("tea", "bike"):
        found = api.call("POST", "/api/v1/memories/search", json={"user_id": "u1", "query": query})
        assert found.status_code == 200, found.text
    login = {"tenant": "acme", "email": "nobody@acme.example", "password": "wrong-Password-1"}
    assert api.client.post("/api/v1/auth/login", json=login).status_code == 401
    after = samples(api)

    created = "membank_memories_created_total"
    assert moved(before, after, created, source="api") == 4  # three adds and one new version
    assert moved(before, after, created, source="batch") == 3
    assert moved(before, after, created, source="conversation") == 2  # Paris, then Berlin superseding it
    updated = "membank_memories_updated_total"
    assert moved(before, after, updated, source="api") == 2  # in place, and closed by a new version
    assert moved(before, after, updated, source="conversation") == 1  # Paris closed by Berlin
    assert moved(before, after, "membank_memories_deleted_total", kind="soft") == 1
    assert moved(before, after, "membank_memories_deleted_total", kind="hard") == 1
    assert moved(before, after, "membank_search_requests_total", outcome="ok") == 2
    assert moved(before, after, "membank_search_latency_seconds_count") == 2
    assert moved(before, after, "membank_audit_events_total", kind="login", outcome="failed") == 1
