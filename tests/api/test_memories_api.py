"""Memory CRUD, history and lists over the API."""

from __future__ import annotations

from tests.api.conftest import Api


def test_create_returns_the_memory_with_id_and_get_reads_it(api: Api) -> None:
    created = api.add(
        "User likes espresso",
        memory_type="preference",
        importance=8,
        tags=["drinks"],
        metadata={"source": "chat"},
    )
    assert created["id"] and created["version"] == 1
    got = api.call("GET", f"/api/v1/memories/{created['id']}").json()
    assert got["success"] is True
    assert got["data"]["content"] == "User likes espresso"
    assert got["data"]["memory_type"] == "preference"
    assert got["data"]["tags"] == ["drinks"] and got["data"]["metadata"] == {"source": "chat"}
    assert got["data"]["valid_to"] is None


def test_unknown_memory_is_404_memory_not_found(api: Api) -> None:
    response = api.call("GET", "/api/v1/memories/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "MEMORY_NOT_FOUND"


def test_patch_with_new_content_supersedes_and_keeps_history(api: Api) -> None:
    old = api.add("User lives in Paris")
    response = api.call("PATCH", f"/api/v1/memories/{old['id']}", json={"content": "User lives in Berlin"})
    assert response.status_code == 200
    new = response.json()["data"]
    assert new["id"] != old["id"] and new["supersedes"] == old["id"] and new["version"] == 2
    closed = api.call("GET", f"/api/v1/memories/{old['id']}").json()["data"]
    assert closed["superseded_by"] == new["id"] and closed["valid_to"] is not None
    history = api.call("GET", f"/api/v1/memories/{new['id']}/history").json()["data"]["history"]
    assert [h["event"] for h in history] == ["CREATE", "SUPERSEDED", "UPDATE"]
    assert (
        history[-1]["old_content"] == "User lives in Paris"
        and history[-1]["new_content"] == "User lives in Berlin"
    )
    hits = api.search("where does the user live").json()["data"]["memories"]
    assert [h["id"] for h in hits] == [new["id"]]


def test_search_as_of_the_past_sees_the_superseded_version(api: Api) -> None:
    old = api.add("User works at Acme")
    before = api.call("GET", f"/api/v1/memories/{old['id']}").json()["data"]["created_at"]
    api.call("PATCH", f"/api/v1/memories/{old['id']}", json={"content": "User works at Globex"})
    past = api.search("where does the user work", as_of=before).json()["data"]["memories"]
    assert [h["content"] for h in past] == ["User works at Acme"]


def test_patch_of_fields_updates_in_place(api: Api) -> None:
    memory = api.add("User plays chess", importance=3)
    response = api.call(
        "PATCH", f"/api/v1/memories/{memory['id']}", json={"importance": 9, "tags": ["games"]}
    )
    updated = response.json()["data"]
    assert updated["id"] == memory["id"] and updated["importance"] == 9 and updated["version"] == 2
    history = api.call("GET", f"/api/v1/memories/{memory['id']}/history").json()["data"]["history"]
    assert history[-1]["changes"]["importance"] == {"old": 3, "new": 9}


def test_delete_invalidates_and_hard_delete_erases(api: Api) -> None:
    memory = api.add("User is allergic to peanuts")
    assert api.call("DELETE", f"/api/v1/memories/{memory['id']}").status_code == 200
    assert api.search("peanut allergy").json()["data"]["memories"] == []
    history = api.call("GET", f"/api/v1/memories/{memory['id']}/history").json()["data"]["history"]
    assert [h["event"] for h in history] == ["CREATE", "DELETE"]
    erased = api.call("DELETE", f"/api/v1/memories/{memory['id']}?hard=true").json()["data"]
    assert erased["erased"] is True and erased["erased_versions"] == 1
    assert api.call("GET", f"/api/v1/memories/{memory['id']}").status_code == 404


def test_user_list_pages_sorts_and_filters_by_type(api: Api) -> None:
    for i in range(5):
        api.add(f"fact number {i}", importance=i + 1, memory_type="factual" if i % 2 else "episodic")
    api.add("someone else's fact", user_id="u2")
    page = api.call(
        "GET", "/api/v1/users/u1/memories?limit=2&offset=1&sort_by=importance&sort_order=asc"
    ).json()
    assert page["data"]["total"] == 5 and page["data"]["limit"] == 2 and page["data"]["offset"] == 1
    assert [m["importance"] for m in page["data"]["memories"]] == [2, 3]
    typed = api.call("GET", "/api/v1/users/u1/memories?type=factual").json()["data"]
    assert typed["total"] == 2 and {m["memory_type"] for m in typed["memories"]} == {"factual"}
    too_many = api.call("GET", "/api/v1/users/u1/memories?limit=101")
    assert (
        too_many.status_code == 400 and too_many.json()["error"]["details"]["errors"][0]["field"] == "limit"
    )


def test_stats_count_active_superseded_and_deleted(api: Api) -> None:
    a = api.add("User has a cat", memory_type="personal")
    b = api.add("User has a dog", memory_type="personal")
    api.add("User visited Rome", memory_type="episodic")
    api.call("PATCH", f"/api/v1/memories/{a['id']}", json={"content": "User has two cats"})
    api.call("DELETE", f"/api/v1/memories/{b['id']}")
    stats = api.call("GET", "/api/v1/users/u1/memories/stats").json()["data"]
    assert stats["total"] == 4 and stats["active"] == 2
    assert stats["superseded"] == 1 and stats["deleted"] == 1
    assert stats["by_type"] == {"personal": 1, "episodic": 1}


def test_idempotency_key_replays_create_and_rejects_a_different_body(api: Api) -> None:
    headers = {"Idempotency-Key": "create-1"}
    first = api.call(
        "POST", "/api/v1/memories", json={"user_id": "u1", "content": "User likes tea"}, headers=headers
    )
    again = api.call(
        "POST", "/api/v1/memories", json={"user_id": "u1", "content": "User likes tea"}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = api.call(
        "POST", "/api/v1/memories", json={"user_id": "u1", "content": "User likes coffee"}, headers=headers
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "CONFLICT"
    assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 1


def test_patch_refuses_null_except_summary_and_an_empty_body_before_looking_the_memory_up(api: Api) -> None:
    memory = api.add("User likes espresso", summary="coffee", importance=6)
    missing = "00000000-0000-0000-0000-000000000000"
    for target in (memory["id"], missing):
        for field in ("content", "memory_type", "importance", "tags", "metadata", "entities"):
            response = api.call("PATCH", f"/api/v1/memories/{target}", json={field: None})
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["code"] == "VALIDATION_ERROR" and error["details"]["errors"][0]["field"] == field
        empty = api.call("PATCH", f"/api/v1/memories/{target}", json={})
        assert empty.status_code == 400 and "at least one field" in empty.json()["error"]["message"]
    cleared = api.call("PATCH", f"/api/v1/memories/{memory['id']}", json={"summary": None})
    assert cleared.status_code == 200 and cleared.json()["data"]["summary"] is None
    assert cleared.json()["data"]["importance"] == 6  # nothing else changed


def test_numbers_of_stored_json_lie_in_the_64_bit_range_whatever_their_form(api: Api) -> None:
    for value in ("1e19", "-9.3e18", "18446744073709551616"):
        body = '{"user_id": "u1", "content": "c", "metadata": {"n": ' + value + "}}"
        response = api.call(
            "POST", "/api/v1/memories", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (value, response.text)
        assert response.json()["error"]["details"]["errors"][0]["field"] == "metadata.n"
    assert api.add("c", metadata={"n": 9.2e18, "m": -9223372036854775808})["metadata"]["n"] == 9.2e18


def test_patching_a_superseded_version_is_a_409_naming_its_successor(api: Api) -> None:
    old = api.add("User lives in Paris", slot=None)
    new = api.call("PATCH", f"/api/v1/memories/{old['id']}", json={"content": "User lives in Rome"}).json()
    response = api.call("PATCH", f"/api/v1/memories/{old['id']}", json={"importance": 9})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "MEMORY_NOT_CURRENT" and error["details"]["superseded_by"] == new["data"]["id"]
    assert api.call("GET", f"/api/v1/memories/{old['id']}").json()["data"]["importance"] == 5  # unchanged
