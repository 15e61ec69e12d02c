"""The key lifecycle over HTTP: create (validated, no escalation), list and get without secrets, rotate
with a grace period, revoke, expiry, usage counts, and the security events they leave."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from membank.auth.keys import ensure_admin_key, issue_key
from membank.bootstrap import build_store
from membank.cli.main import cli
from tests.api.conftest import Api, open_api

MEMORIES = "/api/v1/users/u1/memories"


@dataclass
class KeysApi:
    api: Api
    admin: str  # tenant "acme", tenant-admin

    def create(self, key: str | None = None, **body: Any) -> Any:
        return self.api.call("POST", "/api/v1/keys", key or self.admin, json={"name": "k", **body})

    def created(self, **body: Any) -> dict[str, Any]:
        response = self.create(**body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def listed(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.api.call("GET", "/api/v1/keys", self.admin).json()["data"]["keys"]
        return data

    def status(self, key: str, path: str = MEMORIES) -> int:
        return int(self.api.call("GET", path, key).status_code)


@pytest.fixture
def keys_api(api: Api) -> Iterator[KeysApi]:
    store = build_store(api.settings)
    admin = issue_key(store.keys, tenant_name="acme", name="admin", scopes=("admin",)).plaintext
    store.close()
    yield KeysApi(api, admin)


def _events(api: Api, kind: str) -> list[Any]:
    store = build_store(api.settings)
    try:
        return [event for event in store.security_events.list(None) if event.kind == kind]
    finally:
        store.close()


def test_a_created_key_works_and_is_never_shown_again(keys_api: KeysApi) -> None:
    created = keys_api.created(name="ingest", roles=["service"], user_ids=["u1"])

    assert created["key"].startswith(f"mbk_{created['prefix']}_")
    assert keys_api.status(created["key"]) == 200
    listed = [key for key in keys_api.listed() if key["id"] == created["id"]]
    assert len(listed) == 1
    shown = keys_api.api.call("GET", f"/api/v1/keys/{created['id']}", keys_api.admin).json()["data"]
    secret = created["key"].split("_")[2]
    for view in (listed[0], shown):
        assert "key" not in view and "secret_hash" not in view
        assert secret not in str(view)
        assert view["roles"] == ["service"] and view["user_ids"] == ["u1"] and view["revoked_at"] is None
    assert _events(keys_api.api, "key.create")[-1].target == created["id"]


def test_the_list_is_the_tenants_own(keys_api: KeysApi) -> None:
    names = {key["name"] for key in keys_api.listed()}
    assert {"alice", "reader", "admin"} <= names and "bob" not in names
    bob_key = keys_api.api.call("GET", "/api/v1/keys", keys_api.api.bob_key)
    assert bob_key.status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("roles", ["no-such-role"]),
        ("roles", []),
        ("scopes", ["memories:fly"]),
        ("user_ids", ["bad id with spaces"]),
        ("team_ids", [""]),
        ("expires_at", "2020-01-01T00:00:00Z"),
        ("expires_at", "9999-01-01T00:00:00Z"),
        ("expires_at", 1893456000),
        ("allowed_ips", ["10.0.0.0/33"]),
        ("allowed_ips", ["not-an-ip"]),
        ("allowed_ips", []),
        ("require_signature", "sometimes"),
        ("service_account_id", "no-such-account"),
        ("colour", "blue"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_creates_nothing(
    keys_api: KeysApi, field: str, value: Any
) -> None:
    before = len(keys_api.listed())

    response = keys_api.create(**{field: value})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in str(error)
    assert len(keys_api.listed()) == before


def test_rotate_refuses_a_grace_outside_0_to_7_days(keys_api: KeysApi) -> None:
    created = keys_api.created()
    for grace in (-1, 7 * 86400 + 1, "soon"):
        response = keys_api.api.call(
            "POST", f"/api/v1/keys/{created['id']}/rotate", keys_api.admin, json={"grace_seconds": grace}
        )
        assert response.status_code == 400 and "grace_seconds" in response.text
    assert keys_api.status(created["key"]) == 200


def test_keys_without_the_keys_permission_are_403(keys_api: KeysApi) -> None:
    alice = keys_api.api.alice_key
    assert keys_api.create(alice).status_code == 403
    assert keys_api.api.call("GET", "/api/v1/keys", alice).status_code == 403
    created = keys_api.created()
    assert keys_api.api.call("POST", f"/api/v1/keys/{created['id']}/revoke", alice).status_code == 403
    assert keys_api.status(created["key"]) == 200


def test_a_key_cannot_grant_more_than_its_creator_holds(keys_api: KeysApi) -> None:
    # A tenant admin capped to managing keys and reading memories.
    limited = keys_api.created(roles=["tenant-admin"], scopes=["keys:read", "keys:write", "memories:read"])
    before = len(keys_api.listed())

    escalating = keys_api.create(limited["key"], roles=["service"])
    assert escalating.status_code == 403
    assert escalating.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    assert keys_api.create(limited["key"], roles=["tenant-admin"]).status_code == 403
    assert len(keys_api.listed()) == before
    assert _events(keys_api.api, "key.create")[-1].outcome == "denied"

    within = keys_api.create(limited["key"], roles=["service"], scopes=["memories:read"])
    assert within.status_code == 201, within.text


def test_a_key_cannot_be_rotated_by_a_caller_holding_less(keys_api: KeysApi) -> None:
    limited = keys_api.created(roles=["tenant-admin"], scopes=["keys:read", "keys:write", "memories:read"])
    powerful = keys_api.created(roles=["tenant-admin"])
    path = f"/api/v1/keys/{powerful['id']}/rotate"

    refused = keys_api.api.call("POST", path, limited["key"], json={"grace_seconds": 0})

    assert refused.status_code == 403
    assert keys_api.status(powerful["key"]) == 200  # its secret did not change
    assert _events(keys_api.api, "key.rotate")[-1].outcome == "denied"
    weaker = keys_api.created(roles=["service"], scopes=["memories:read"])
    allowed = keys_api.api.call("POST", f"/api/v1/keys/{weaker['id']}/rotate", limited["key"], json={})
    assert allowed.status_code == 200


def test_a_bound_creator_may_only_bind_its_own_end_users(keys_api: KeysApi) -> None:
    bound = keys_api.created(roles=["tenant-admin"], user_ids=["u1"])
    assert keys_api.create(bound["key"], roles=["user"], user_ids=["u2"]).status_code == 403
    assert keys_api.create(bound["key"], roles=["user"]).status_code == 403
    assert keys_api.create(bound["key"], roles=["user"], user_ids=["u1"]).status_code == 201


def test_rotation_keeps_the_old_secret_for_the_grace_only(keys_api: KeysApi) -> None:
    created = keys_api.created()
    path = f"/api/v1/keys/{created['id']}/rotate"

    first = keys_api.api.call("POST", path, keys_api.admin, json={"grace_seconds": 1}).json()["data"]
    assert first["prefix"] == created["prefix"] and first["key"] != created["key"]
    assert keys_api.status(first["key"]) == 200
    assert keys_api.status(created["key"]) == 200  # within the grace
    time.sleep(1.2)
    assert keys_api.status(created["key"]) == 401
    assert keys_api.status(first["key"]) == 200

    second = keys_api.api.call("POST", path, keys_api.admin, json={"grace_seconds": 0}).json()["data"]
    assert keys_api.status(first["key"]) == 401
    assert keys_api.status(second["key"]) == 200
    assert [event.target for event in _events(keys_api.api, "key.rotate")] == [created["id"]] * 2


def test_revoke_by_post_or_delete_stops_the_key(keys_api: KeysApi) -> None:
    for method, suffix in (("POST", "/revoke"), ("DELETE", "")):
        created = keys_api.created()
        response = keys_api.api.call(method, f"/api/v1/keys/{created['id']}{suffix}", keys_api.admin)
        assert response.status_code == 200 and response.json()["data"]["revoked_at"] is not None
        assert keys_api.status(created["key"]) == 401
        rotate = keys_api.api.call("POST", f"/api/v1/keys/{created['id']}/rotate", keys_api.admin, json={})
        assert rotate.status_code == 409
    assert len(_events(keys_api.api, "key.revoke")) == 2


def test_unknown_and_other_tenants_keys_are_404(keys_api: KeysApi) -> None:
    bob_prefix = keys_api.api.bob_key.split("_")[1]
    for path in ("/api/v1/keys/nope", f"/api/v1/keys/{bob_prefix}", f"/api/v1/keys/{bob_prefix}/usage"):
        response = keys_api.api.call("GET", path, keys_api.admin)
        assert response.status_code == 404 and response.json()["error"]["code"] == "KEY_NOT_FOUND"
    assert keys_api.api.call("DELETE", f"/api/v1/keys/{bob_prefix}", keys_api.admin).status_code == 404
    assert keys_api.status(keys_api.api.bob_key) == 200


def test_an_expired_key_is_401(keys_api: KeysApi) -> None:
    # A short life, made longer when a loaded machine lets it pass before the key was even used once.
    for seconds in (2, 6, 20):
        soon = datetime.now(UTC) + timedelta(seconds=seconds)
        response = keys_api.create(expires_at=soon.isoformat())
        if response.status_code == 201 and keys_api.status(response.json()["data"]["key"]) == 200:
            break
    else:
        pytest.fail("no key lived long enough to be used once")
    created = response.json()["data"]
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    response = keys_api.api.call("GET", MEMORIES, created["key"])
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_usage_is_counted_per_day_and_flushed_in_batches(keys_api: KeysApi) -> None:
    created = keys_api.created()
    for _ in range(3):
        assert keys_api.status(created["key"]) == 200

    usage = keys_api.api.call("GET", f"/api/v1/keys/{created['id']}/usage", keys_api.admin).json()["data"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert usage["days"] == [{"day": today, "requests": 3}]

    store = build_store(keys_api.api.settings)
    try:
        assert store.keys.usage(created["id"], since_day=today) == []  # not written per request
        keys_api.api.client.app.state.container.key_usage.flush()  # type: ignore[attr-defined]
        assert store.keys.usage(created["id"], since_day=today) == [(today, 3)]
    finally:
        store.close()
    listed = {key["id"]: key for key in keys_api.listed()}
    assert listed[created["id"]]["requests"] == 3
    bad_days = keys_api.api.call("GET", f"/api/v1/keys/{created['id']}/usage?days=0", keys_api.admin)
    assert bad_days.status_code == 400


def test_usage_is_flushed_at_shutdown(make_settings: Any) -> None:
    settings = make_settings()
    with open_api(settings) as api:
        assert api.call("GET", MEMORIES).status_code == 200
    store = build_store(settings)
    try:
        prefix = api.alice_key.split("_")[1]
        key = store.keys.key_by_prefix(prefix)
        assert key is not None
        assert store.keys.usage_totals([key.id]) == {key.id: 1}
    finally:
        store.close()


def test_the_configured_admin_key_is_not_rotated_or_revoked_over_http(make_settings: Any) -> None:
    configured = "operator-admin-key-0123456789abcdef"
    settings = make_settings()
    store = build_store(settings)
    ensure_admin_key(store.keys, configured)  # what `membank serve` does at start-up
    store.close()
    with open_api(settings) as api:
        listed = api.call("GET", "/api/v1/keys", configured).json()["data"]["keys"]
        own = next(key for key in listed if key["name"].startswith("admin (MEMBANK_ADMIN_API_KEY)"))
        for method, suffix, body in (
            ("POST", "/rotate", {}),
            ("POST", "/revoke", None),
            ("DELETE", "", None),
        ):
            response = api.call(method, f"/api/v1/keys/{own['id']}{suffix}", configured, json=body)
            assert response.status_code == 409, response.text
            assert "MEMBANK_ADMIN_API_KEY" in response.json()["error"]["message"]
        assert api.call("GET", "/api/v1/keys", configured).status_code == 200


def test_a_revoked_configured_admin_key_stays_revoked_across_restarts(make_settings: Any) -> None:
    configured = "operator-admin-key-0123456789abcdef"
    settings = make_settings()
    store = build_store(settings)
    try:
        ensure_admin_key(store.keys, configured)
        key = next(
            k for k in store.keys.list_keys(None) if k.name.startswith("admin (MEMBANK_ADMIN_API_KEY)")
        )
        assert store.keys.revoke(key.id, time.time())
        with pytest.raises(ValueError, match="revoked") as refused:
            ensure_admin_key(store.keys, configured)
        assert configured not in str(refused.value)
        assert [k.revoked_at is not None for k in store.keys.list_keys(None)] == [True]
        # A configured `mbk_` key whose prefix another key already has is refused, not merged with it.
        other = issue_key(store.keys, tenant_name="acme", name="app")
        clashing = f"mbk_{other.key.prefix}_notthesecretofthatkey0123456789"
        with pytest.raises(ValueError, match="shares its prefix"):
            ensure_admin_key(store.keys, clashing)
        assert store.keys.key_by_prefix(other.key.prefix) == other.key
    finally:
        store.close()
    # `membank serve` stops with that message before it binds a port.
    env = {
        "MEMBANK_DATA_DIR": str(settings.data_dir),
        "MEMBANK_ADMIN_API_KEY": configured,
        "MEMBANK_LOG_LEVEL": "WARNING",
    }
    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1 and "names a revoked key" in result.output, result.output
    assert configured not in result.output
