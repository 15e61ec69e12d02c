"""Service accounts over HTTP: create, list, get, disable (its keys stop), unique names, keys:write."""

from __future__ import annotations

from typing import Any

import pytest

from membank.auth.keys import issue_key
from membank.bootstrap import build_store
from tests.api.conftest import Api

ACCOUNTS = "/api/v1/service-accounts"


@pytest.fixture
def admin(api: Api) -> str:
    store = build_store(api.settings)
    key = issue_key(store.keys, tenant_name="acme", name="admin", scopes=("admin",)).plaintext
    store.close()
    return key


def _account(api: Api, admin: str, name: str = "ingest-bot") -> dict[str, Any]:
    response = api.call("POST", ACCOUNTS, admin, json={"name": name, "description": "nightly import"})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_disabling_an_account_stops_its_keys(api: Api, admin: str) -> None:
    account = _account(api, admin)
    created = api.call(
        "POST", "/api/v1/keys", admin, json={"name": "bot key", "service_account_id": account["id"]}
    )
    assert created.status_code == 201, created.text
    key = created.json()["data"]["key"]
    assert api.call("GET", "/api/v1/users/u1/memories", key).status_code == 200

    disabled = api.call("POST", f"{ACCOUNTS}/{account['id']}/disable", admin)

    assert disabled.status_code == 200 and disabled.json()["data"]["disabled_at"] is not None
    refused = api.call("GET", "/api/v1/users/u1/memories", key)
    assert refused.status_code == 401 and "service account" in refused.json()["error"]["message"]
    again = api.call("POST", "/api/v1/keys", admin, json={"name": "k2", "service_account_id": account["id"]})
    assert again.status_code == 400 and "service_account_id" in again.text


def test_accounts_are_listed_and_read_per_tenant(api: Api, admin: str) -> None:
    account = _account(api, admin)
    listed = api.call("GET", ACCOUNTS, admin).json()["data"]["service_accounts"]
    assert [a["name"] for a in listed] == ["ingest-bot"]
    assert api.call("GET", f"{ACCOUNTS}/{account['id']}", admin).json()["data"] == account
    missing = api.call("GET", f"{ACCOUNTS}/nope", admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SERVICE_ACCOUNT_NOT_FOUND"
    store = build_store(api.settings)
    other_admin = issue_key(store.keys, tenant_name="globex", name="admin", scopes=("admin",)).plaintext
    store.close()
    assert api.call("GET", f"{ACCOUNTS}/{account['id']}", other_admin).status_code == 404
    assert api.call("POST", f"{ACCOUNTS}/{account['id']}/disable", other_admin).status_code == 404
    assert api.call("GET", ACCOUNTS, other_admin).json()["data"]["service_accounts"] == []


def test_a_duplicate_name_is_409_and_bad_input_400(api: Api, admin: str) -> None:
    _account(api, admin)
    duplicate = api.call("POST", ACCOUNTS, admin, json={"name": "ingest-bot"})
    assert duplicate.status_code == 409
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "ok", "description": "d" * 501}, {}):
        response = api.call("POST", ACCOUNTS, admin, json=body)
        assert response.status_code == 400, body
    assert len(api.call("GET", ACCOUNTS, admin).json()["data"]["service_accounts"]) == 1


def test_service_accounts_need_keys_write(api: Api, admin: str) -> None:
    account = _account(api, admin)
    for method, path in (("GET", ACCOUNTS), ("POST", f"{ACCOUNTS}/{account['id']}/disable")):
        response = api.call(method, path, api.alice_key)
        assert response.status_code == 403
    assert api.call("POST", ACCOUNTS, api.alice_key, json={"name": "x"}).status_code == 403
    assert api.call("GET", f"{ACCOUNTS}/{account['id']}", admin).json()["data"]["disabled_at"] is None
