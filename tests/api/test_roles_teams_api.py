"""Custom role lifecycle, teams managed by their admins, tenants and the cross-tenant header, security events."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from membank.config import Settings
from tests.api.rbac_support import Served, role_key, serve


@pytest.fixture
def served(make_settings: Callable[..., Settings]) -> Iterator[Served]:
    with serve(make_settings()) as s:
        yield s


def _events(served: Served, kind: str, key: str = "tenant-admin") -> list[dict[str, object]]:
    answer = served.call("GET", f"/api/v1/security-events?kind={kind}", key)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, object]] = answer.json()["data"]["events"]
    return events


def test_custom_role_lifecycle_grants_from_the_next_request_and_nothing_once_deleted(served: Served) -> None:
    listed = served.call("GET", "/api/v1/roles", "tenant-admin").json()["data"]["roles"]
    assert {r["name"] for r in listed if r["builtin"]} >= {"user", "auditor", "platform-admin"}
    body = {"name": "reader", "description": "reads all", "permissions": ["memories:read:all"]}
    created = served.call("POST", "/api/v1/roles", "tenant-admin", json=body)
    assert created.status_code == 201, created.text
    holder = role_key(served.store, "acme", ["reader"])
    served.keys["reader"] = holder
    assert served.call("GET", "/api/v1/users/u3/memories", "reader").status_code == 200
    assert (
        served.call("POST", "/api/v1/memories", "reader", json={"user_id": "u3", "content": "x"}).status_code
        == 403
    )
    patched = served.call(
        "PATCH", "/api/v1/roles/reader", "tenant-admin", json={"permissions": ["memories:read:own"]}
    )
    assert patched.status_code == 200 and patched.json()["data"]["permissions"] == ["memories:read:own"]
    assert served.call("GET", "/api/v1/users/u3/memories", "reader").status_code == 403
    assert served.call("DELETE", "/api/v1/roles/reader", "tenant-admin").status_code == 200
    assert served.call("GET", "/api/v1/users/u3/memories", "reader").status_code == 403
    assert (
        served.call("DELETE", "/api/v1/roles/reader", "tenant-admin").json()["error"]["code"]
        == "ROLE_NOT_FOUND"
    )
    changes = _events(served, "role_change")
    assert [e["details"]["action"] for e in changes] == ["create", "update", "delete"]  # type: ignore[index]


def test_bad_role_requests_are_refused_and_change_nothing(served: Served) -> None:
    builtin = served.call(
        "POST", "/api/v1/roles", "tenant-admin", json={"name": "auditor", "permissions": []}
    )
    assert builtin.status_code == 409
    bad = served.call(
        "POST",
        "/api/v1/roles",
        "tenant-admin",
        json={"name": "x", "permissions": ["memories:read:all", "memories:fly:all"]},
    )
    assert bad.status_code == 400, bad.json()
    assert bad.json()["error"]["message"].startswith("permissions[1]: "), bad.json()
    assert bad.json()["error"]["details"]["errors"][0]["field"] == "permissions[1]"
    # A team admin may not mint a role wider than itself (nor manage roles at all without admin:write).
    assert (
        served.call("POST", "/api/v1/roles", "team-admin", json={"name": "y", "permissions": []}).status_code
        == 403
    )
    served.keys["limited"] = role_key(served.store, "acme", ["custom-admin"])
    served.call(
        "POST",
        "/api/v1/roles",
        "tenant-admin",
        json={"name": "custom-admin", "permissions": ["admin:write:all", "memories:read:team"]},
    )
    wider = served.call(
        "POST", "/api/v1/roles", "limited", json={"name": "z", "permissions": ["memories:read:all"]}
    )
    assert wider.status_code == 403 and wider.json()["error"]["details"]["permissions"] == [
        "memories:read:all"
    ]
    names = {r["name"] for r in served.call("GET", "/api/v1/roles", "tenant-admin").json()["data"]["roles"]}
    assert not names & {"x", "y", "z"}


def test_teams_are_managed_by_tenant_admins_and_their_own_team_admins(served: Served) -> None:
    created = served.call("POST", "/api/v1/teams", "tenant-admin", json={"name": "blue"})
    assert created.status_code == 201
    blue = created.json()["data"]["id"]
    assert served.call("POST", "/api/v1/teams", "team-admin", json={"name": "green"}).status_code == 403
    assert served.call("PUT", "/api/v1/teams/t-red/members/u5", "team-admin").status_code == 200
    assert served.call("GET", "/api/v1/teams/t-red/members", "team-admin").json()["data"]["user_ids"] == [
        "u2",
        "u5",
    ]
    # u5 is now the team's: the member reaches it.
    assert served.call("GET", "/api/v1/users/u5/memories", "member").status_code == 200
    assert (
        served.call("PUT", f"/api/v1/teams/{blue}/members/u6", "team-admin").json()["error"]["code"]
        == "TEAM_NOT_FOUND"
    )
    assert served.call("PUT", "/api/v1/teams/t-red/members/u7", "member").status_code == 403
    assert [t["name"] for t in served.call("GET", "/api/v1/teams", "team-admin").json()["data"]["teams"]] == [
        "red"
    ]
    assert served.call("DELETE", "/api/v1/teams/t-red/members/u5", "team-admin").status_code == 200
    assert served.call("GET", "/api/v1/users/u5/memories", "member").status_code == 403
    assert served.call("DELETE", f"/api/v1/teams/{blue}", "tenant-admin").status_code == 200


def test_only_a_platform_admin_crosses_tenants_by_naming_one_and_it_is_recorded(served: Served) -> None:
    header = {"X-MemBank-Tenant": "globex"}
    written = served.call(
        "POST", "/api/v1/memories", "globex-admin", json={"user_id": "g1", "content": "globex fact"}
    )
    assert written.status_code == 201
    assert served.call("GET", "/api/v1/users/g1/memories", "platform-admin").json()["data"]["total"] == 0
    across = served.call("GET", "/api/v1/users/g1/memories", "platform-admin", headers=header)
    assert across.status_code == 200 and across.json()["data"]["total"] == 1
    refused = served.call("GET", "/api/v1/users/g1/memories", "tenant-admin", headers=header)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    missing = served.call(
        "GET", "/api/v1/users/g1/memories", "platform-admin", headers={"X-MemBank-Tenant": "nope"}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "TENANT_NOT_FOUND"
    in_globex = _events(served, "cross_tenant_access", "globex-admin")
    assert [(e["outcome"], e["details"]["route"]) for e in in_globex] == [("ok", "/api/v1/users/g1/memories")]  # type: ignore[index]
    denied = _events(served, "cross_tenant_access")
    assert {e["outcome"] for e in denied} == {"denied"} and len(denied) == 2


def test_tenants_are_listed_and_created_by_platform_admins_only(served: Served) -> None:
    assert served.call("GET", "/api/v1/tenants", "tenant-admin").status_code == 403
    assert (
        served.call("POST", "/api/v1/tenants", "platform-admin", json={"name": "initech"}).status_code == 201
    )
    assert (
        served.call("POST", "/api/v1/tenants", "platform-admin", json={"name": "initech"}).status_code == 409
    )
    names = [
        t["name"] for t in served.call("GET", "/api/v1/tenants", "platform-admin").json()["data"]["tenants"]
    ]
    assert {"acme", "globex", "initech"} <= set(names)


def test_security_events_page_by_after_id_for_auditors_only(served: Served) -> None:
    for name in ("r1", "r2", "r3"):
        served.call("POST", "/api/v1/roles", "tenant-admin", json={"name": name, "permissions": []})
    first = served.call("GET", "/api/v1/security-events?kind=role_change&limit=2", "auditor").json()["data"]
    assert len(first["events"]) == 2 and first["next_after_id"] is not None
    rest = served.call(
        "GET", f"/api/v1/security-events?kind=role_change&after_id={first['next_after_id']}", "auditor"
    )
    assert [e["target"] for e in rest.json()["data"]["events"]] == ["role:r3"]
    assert served.call("GET", "/api/v1/security-events", "service").status_code == 403
    assert served.call("GET", "/api/v1/security-events", "globex-admin").json()["data"]["events"] == []
