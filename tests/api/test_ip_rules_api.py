"""/api/v1/ip-rules and the rules in force: global rules before authentication, a tenant's after it, and a
change on one instance in force on another without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from membank.api import create_app
from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.rbac_support import role_key
from tests.support.postgres import start_postgres

CALLER = "203.0.113.10"  # the address every test client connects from
OTHER = "198.51.100.20"


@dataclass
class Instance:
    client: TestClient
    keys: dict[str, str]

    def call(self, method: str, path: str, key: str = "admin", **kwargs: Any) -> Any:
        headers = {"X-API-Key": self.keys[key], **(kwargs.pop("headers", None) or {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def add(self, cidr: str, action: str = "deny", key: str = "admin", **params: Any) -> Any:
        force = params.pop("force", False)
        body = {"cidr": cidr, "action": action, "note": "test", "force": force}
        return self.call("POST", "/api/v1/ip-rules", key, json=body, params=params)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(ip_rules_refresh_seconds=0.2, rate_limit_unauthenticated_per_minute=0)


@pytest.fixture
def keys(settings: Settings) -> dict[str, str]:
    store = build_store(settings)
    try:
        return {
            "admin": role_key(store, "acme", ["tenant-admin"]),
            "member": role_key(store, "acme", ["member"]),
            "platform": role_key(store, "acme", ["platform-admin"]),
            "globex": role_key(store, "globex", ["tenant-admin"]),
        }
    finally:
        store.close()


@contextmanager
def instance(settings: Settings, keys: dict[str, str], ip: str = CALLER) -> Iterator[Instance]:
    with TestClient(create_app(settings), client=(ip, 40000)) as client:
        yield Instance(client, keys)


@pytest.fixture
def api(settings: Settings, keys: dict[str, str]) -> Iterator[Instance]:
    with instance(settings, keys) as served:
        yield served


def test_a_tenant_admin_adds_lists_and_removes_its_rules(api: Instance) -> None:
    created = api.add("198.51.100.77/24")
    assert created.status_code == 201, created.text
    rule = created.json()["data"]
    assert (rule["cidr"], rule["action"], rule["scope"]) == ("198.51.100.0/24", "deny", "tenant")
    listed = api.call("GET", "/api/v1/ip-rules").json()["data"]["rules"]
    assert [r["id"] for r in listed] == [rule["id"]]
    assert api.call("GET", "/api/v1/ip-rules", "globex").json()["data"]["rules"] == []
    gone = api.call("DELETE", f"/api/v1/ip-rules/{rule['id']}")
    assert gone.status_code == 200 and gone.json()["data"] == {"id": rule["id"], "deleted": True}
    assert api.call("GET", "/api/v1/ip-rules").json()["data"]["rules"] == []


def test_another_tenants_rule_is_not_found(api: Instance) -> None:
    rule = api.add("198.51.100.0/24").json()["data"]
    refused = api.call("DELETE", f"/api/v1/ip-rules/{rule['id']}", "globex")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "IP_RULE_NOT_FOUND")
    missing = api.call("DELETE", "/api/v1/ip-rules/ipr_nothing")
    assert missing.status_code == 404


def test_an_invalid_cidr_is_a_400_naming_cidr(api: Instance) -> None:
    refused = api.add("10.0.0.0/33")
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["errors"][0]["field"] == "cidr"


def test_rules_need_the_admin_permission_and_global_ones_a_platform_admin(api: Instance) -> None:
    assert api.add("198.51.100.0/24", key="member").status_code == 403
    assert api.call("GET", "/api/v1/ip-rules", "member").status_code == 403
    refused = api.add("198.51.100.0/24", scope="global")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "INSUFFICIENT_PERMISSIONS")
    made = api.add("198.51.100.0/24", key="platform", scope="global")
    assert made.status_code == 201 and made.json()["data"]["scope"] == "global"
    assert api.call("GET", "/api/v1/ip-rules", "platform", params={"scope": "global"}).json()["data"][
        "rules"
    ] == [made.json()["data"]]
    # A global rule is not the tenant's to remove.
    rule_id = made.json()["data"]["id"]
    assert api.call("DELETE", f"/api/v1/ip-rules/{rule_id}", "platform").status_code == 404
    assert (
        api.call("DELETE", f"/api/v1/ip-rules/{rule_id}", "platform", params={"scope": "global"}).status_code
        == 200
    )


def test_a_rule_that_would_lock_the_caller_out_needs_force(api: Instance) -> None:
    refused = api.add(OTHER, "allow")  # an allow list without the caller's own address
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "CONFLICT")
    assert CALLER in refused.json()["error"]["message"]
    assert api.add(CALLER, "deny").status_code == 409
    assert api.add(f"{CALLER}/24", "allow").status_code == 201  # includes the caller: fine
    forced = api.add(CALLER, "deny", force=True)
    assert forced.status_code == 201
    locked = api.call("GET", "/api/v1/ip-rules")
    assert (locked.status_code, locked.json()["error"]["code"]) == (403, "IP_DENIED")


def test_tenant_rules_apply_to_that_tenant_only(settings: Settings, keys: dict[str, str]) -> None:
    with instance(settings, keys) as api:
        assert api.add(OTHER, "allow", force=True).status_code == 201
        refused = api.call("GET", "/api/v1/ip-rules")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "IP_DENIED")
        assert refused.json()["error"]["details"] == {"scope": "tenant"}
        assert api.call("GET", "/api/v1/ip-rules", "globex").status_code == 200
    with instance(settings, keys, ip=OTHER) as allowed:
        assert allowed.call("GET", "/api/v1/ip-rules").status_code == 200


def test_a_global_deny_applies_on_the_next_request_of_every_instance(
    settings: Settings, keys: dict[str, str]
) -> None:
    with instance(settings, keys) as first, instance(settings, keys, ip=OTHER) as second:
        assert second.call("GET", "/api/v1/ip-rules").status_code == 200  # its cache is filled: no rules
        assert first.add(OTHER, key="platform", scope="global").status_code == 201
        deadline = time.monotonic() + 5
        while (answer := second.call("GET", "/api/v1/ip-rules")).status_code == 200:
            assert time.monotonic() < deadline, "the other instance never saw the new rule"
            time.sleep(0.05)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "IP_DENIED")
        assert first.call("GET", "/api/v1/ip-rules").status_code == 200  # another address still passes


def test_a_globally_denied_address_reaches_no_route_not_even_login(
    settings: Settings, keys: dict[str, str]
) -> None:
    with instance(settings, keys) as admin:
        assert admin.add(OTHER, key="platform", scope="global").status_code == 201
    with instance(settings, keys, ip=OTHER) as denied:
        first = denied.client.get("/api/v1/memories", headers={"X-Request-ID": "not an id: spaces"})
        answered_id = first.headers["x-request-id"]
        assert first.status_code == 403 and answered_id != "not an id: spaces"
        for method, path in [
            ("POST", "/api/v1/auth/login"),
            ("POST", "/api/v1/auth/refresh"),
            ("GET", "/health/live"),
            ("GET", "/api/v1/no-such-route"),
        ]:
            answer = denied.client.request(method, path, json={"refresh_token": "x"})
            assert (answer.status_code, answer.json()["error"]["code"]) == (403, "IP_DENIED"), path
            assert answer.headers["x-content-type-options"] == "nosniff"
        # Refused before authentication: a valid key changes nothing.
        assert denied.call("GET", "/api/v1/ip-rules", "platform").status_code == 403
    store = build_store(settings)
    try:
        events = store.security_events.list(None, kind="ip.denied")
    finally:
        store.close()
    # Audited, but not once per request: one event per address and scope a minute.
    assert len(events) == 1 and events[0].ip == OTHER and events[0].details == {"scope": "global"}
    assert events[0].request_id == answered_id


def test_while_postgres_is_down_the_rules_last_read_stay_in_force(
    make_settings: Callable[..., Settings],
) -> None:
    with start_postgres() as server:
        database = server.create_database()
        settings = make_settings(
            store="postgres",
            database_url=server.url(database),
            ip_rules_refresh_seconds=0,
            rate_limit_unauthenticated_per_minute=0,
        )
        store = build_store(settings)
        try:
            keys = {"platform": role_key(store, "acme", ["platform-admin"])}
        finally:
            store.close()
        with instance(settings, keys) as admin, instance(settings, keys, ip=OTHER) as denied:
            assert admin.add(OTHER, key="platform", scope="global").status_code == 201
            assert denied.client.get("/health/live").status_code == 403
            server.stop()
            # Neither a 500 nor an open door: the address stays refused, others are let through to routes
            # that need no store.
            assert denied.client.get("/health/live").status_code == 403
            assert admin.client.get("/health/live").status_code == 200
            server.restart()
            assert (
                admin.call("GET", "/api/v1/ip-rules", "platform", params={"scope": "global"}).status_code
                == 200
            )
