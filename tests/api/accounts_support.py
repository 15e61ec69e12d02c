"""An app for the account tests: cheap argon2 (tests only), a short lockout, admin keys of two tenants."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from membank.auth.keys import hash_secret, issue_key, split_key
from membank.bootstrap import build_store
from membank.config import Settings
from membank.models import ApiKey
from membank.models.principal import Permission
from membank.storage.ports import CustomRole
from tests.api.conftest import Api, open_api

ACCOUNTS = "/api/v1/accounts"
LOGIN = "/api/v1/auth/login"
PASSWORD = "Tr0ubadour-Sunrise"  # meets the policy: 3 classes, not common, 18 characters
OTHER_PASSWORD = "Quiet-Harbour-Lantern-7"
FAST: dict[str, Any] = {
    "argon2_memory_kib": 64,
    "argon2_time_cost": 1,
    "login_max_failures": 3,
    "login_lockout_seconds": 1.0,
    "login_lockout_max_seconds": 2.0,
    "rate_limit_per_minute": 0,
}


@dataclass
class AccountsApi:
    api: Api
    admin: str  # acme's tenant admin key
    globex_admin: str

    def create(self, email: str, key: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"email": email, "password": PASSWORD, "roles": ["user"], **fields}
        response = self.api.call("POST", ACCOUNTS, key or self.admin, json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def login(self, email: str, password: str = PASSWORD, tenant: str = "acme", **fields: Any) -> Any:
        body = {"tenant": tenant, "email": email, "password": password, **fields}
        return self.api.client.post(LOGIN, json=body)

    def token(self, email: str, password: str = PASSWORD) -> str:
        response = self.login(email, password)
        assert response.status_code == 200, response.text
        token: str = response.json()["data"]["access_token"]
        return token


def role_key(settings: Settings, tenant: str, permissions: list[str]) -> str:
    """A key of a custom role granting exactly `permissions`."""
    store = build_store(settings)
    try:
        tenant_id = store.keys.ensure_tenant(tenant).id
        name = f"role-{uuid.uuid4().hex[:8]}"
        granted = frozenset(Permission.parse(p) for p in permissions)
        now = time.time()
        store.roles.create_role(CustomRole(uuid.uuid4().hex, tenant_id, name, "", granted, now, now))
        plaintext = f"mbk_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}{uuid.uuid4().hex}"
        prefix, secret = split_key(plaintext)
        key = ApiKey(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            name=name,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            scopes=[],
            created_at=datetime.now(UTC),
            roles=[name],
        )
        store.keys.create_key(key)
        return plaintext
    finally:
        store.close()


def open_accounts(settings: Settings) -> Iterator[AccountsApi]:
    store = build_store(settings)
    admin = issue_key(store.keys, tenant_name="acme", name="admin", scopes=("admin",)).plaintext
    globex = issue_key(store.keys, tenant_name="globex", name="admin", scopes=("admin",)).plaintext
    store.close()
    with open_api(settings) as api:
        yield AccountsApi(api, admin, globex)


@pytest.fixture
def accounts(make_settings: Callable[..., Settings]) -> Iterator[AccountsApi]:
    yield from open_accounts(make_settings(**FAST))
