"""Each built-in role against each memory route family: own/team/all reach, 403 naming the user, 404 for ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from membank.config import Settings
from tests.api.rbac_support import Served, serve

# Who reaches which end user: u1 is bound to `user`, u2 is in the team of `member`/`team-admin`, u3 nobody's.
READERS = {
    "user": {"u1"},
    "member": {"u2"},
    "team-admin": {"u2"},
    "service": {"u1", "u2", "u3"},
    "auditor": set(),
    "tenant-admin": {"u1", "u2", "u3"},
    "platform-admin": {"u1", "u2", "u3"},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("rbac")
    settings = Settings(data_dir=data, workers=1, job_poll_seconds=0.05, log_json=False, log_level="WARNING")
    with serve(settings) as s:
        yield s


@pytest.fixture(scope="module")
def memories(served: Served) -> dict[str, str]:
    ids = {}
    for user in ("u1", "u2", "u3"):
        answer = served.call(
            "POST", "/api/v1/memories", "service", json={"user_id": user, "content": f"{user} likes tea"}
        )
        assert answer.status_code == 201, answer.text
        ids[user] = answer.json()["data"]["id"]
    return ids


def _refused(answer: object, user: str, permission: str) -> None:
    assert answer.status_code == 403, answer.text  # type: ignore[attr-defined]
    error = answer.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "INSUFFICIENT_PERMISSIONS"
    if user:
        assert error["details"] == {"user_id": user, "permission": permission}


@pytest.mark.parametrize("role", sorted(READERS))
@pytest.mark.parametrize("user", ["u1", "u2", "u3"])
def test_reads_reach_exactly_the_roles_end_users(
    served: Served, memories: dict[str, str], role: str, user: str
) -> None:
    allowed = user in READERS[role]
    listed = served.call("GET", f"/api/v1/users/{user}/memories", role)
    got = served.call("GET", f"/api/v1/memories/{memories[user]}", role)
    history = served.call("GET", f"/api/v1/memories/{memories[user]}/history", role)
    search = served.call("POST", "/api/v1/memories/search", role, json={"user_id": user, "query": "tea"})
    if allowed:
        assert listed.status_code == got.status_code == history.status_code == search.status_code == 200
        assert listed.json()["data"]["total"] == 1
    elif role == "auditor":  # no memory content at all, whoever's
        for answer in (listed, got, history, search):
            _refused(answer, "", "")
    else:
        _refused(listed, user, "memories:read")
        _refused(search, user, "memories:read")
        # A memory id outside the reach is answered as absent, so ids cannot be probed.
        assert got.status_code == history.status_code == 404
        assert got.json()["error"]["code"] == "MEMORY_NOT_FOUND"


@pytest.mark.parametrize("role", sorted(READERS))
def test_creates_reach_exactly_the_roles_end_users(served: Served, role: str) -> None:
    for user in ("u1", "u2", "u3"):
        answer = served.call(
            "POST", "/api/v1/memories", role, json={"user_id": user, "content": f"{role} note"}
        )
        if user in READERS[role]:
            assert answer.status_code == 201, answer.text
        elif role == "auditor":
            _refused(answer, "", "")
        else:
            _refused(answer, user, "memories:write")
            total = served.call("GET", f"/api/v1/users/{user}/memories", "service").json()["data"]["total"]
            assert all(
                m["content"] != f"{role} note"
                for m in served.call("GET", f"/api/v1/users/{user}/memories?limit=100", "service").json()[
                    "data"
                ]["memories"]
            ), total


def test_a_batch_with_one_foreign_user_is_refused_whole(served: Served) -> None:
    body = {"memories": [{"user_id": "u1", "content": "mine"}, {"user_id": "u3", "content": "not mine"}]}
    _refused(served.call("POST", "/api/v1/memories/batch", "user", json=body), "u3", "memories:write")
    convo = {"user_id": "u3", "user_input": "I moved to Oslo"}
    _refused(
        served.call("POST", "/api/v1/memories/process-conversation", "user", json=convo),
        "u3",
        "memories:write",
    )


def test_delete_and_patch_outside_the_reach_are_404_and_change_nothing(
    served: Served, memories: dict[str, str]
) -> None:
    target = memories["u3"]
    assert served.call("DELETE", f"/api/v1/memories/{target}", "member").status_code == 404
    assert (
        served.call("PATCH", f"/api/v1/memories/{target}", "user", json={"importance": 9}).status_code == 404
    )
    kept = served.call("GET", f"/api/v1/memories/{target}", "service").json()["data"]
    assert kept["deleted_at"] is None and kept["importance"] != 9


def test_a_team_member_deletes_a_team_users_memory(served: Served) -> None:
    created = served.call(
        "POST", "/api/v1/memories", "member", json={"user_id": "u2", "content": "to forget"}
    )
    memory_id = created.json()["data"]["id"]
    assert served.call("DELETE", f"/api/v1/memories/{memory_id}", "member").status_code == 200


def test_jobs_of_another_user_are_not_found(served: Served) -> None:
    accepted = served.call(
        "POST",
        "/api/v1/memories/batch",
        "service",
        json={"memories": [{"user_id": "u3", "content": "job note"}]},
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["data"]["id"]
    assert served.call("GET", f"/api/v1/jobs/{job_id}", "user").json()["error"]["code"] == "JOB_NOT_FOUND"
    assert served.call("GET", f"/api/v1/jobs/{job_id}", "tenant-admin").status_code == 200
    auditor_view = served.call("GET", f"/api/v1/jobs/{job_id}", "auditor")
    assert auditor_view.status_code == 200  # jobs:read tenant-wide, but without memory content
    assert served.call("GET", f"/api/v1/jobs/{job_id}/items", "auditor").status_code == 403


def test_auditors_read_stats_but_users_only_their_own(served: Served, memories: dict[str, str]) -> None:
    assert served.call("GET", "/api/v1/users/u3/memories/stats", "auditor").status_code == 200
    assert served.call("GET", "/api/v1/users/u1/memories/stats", "user").status_code == 200
    _refused(served.call("GET", "/api/v1/users/u3/memories/stats", "user"), "u3", "memories:read")
