"""An app per test, served in-process, with an admin key and keys for two tenants."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from membank.api import create_app
from membank.auth.keys import issue_key
from membank.bootstrap import build_store
from membank.config import Settings


@dataclass
class Api:
    client: TestClient
    alice_key: str  # tenant "acme"
    bob_key: str  # tenant "globex"
    reader_key: str  # tenant "acme", read-only
    settings: Settings

    def call(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("X-API-Key", key or self.alice_key)
        return self.client.request(method, path, headers=headers, **kwargs)

    def add(self, content: str, user_id: str = "u1", key: str | None = None, **fields: Any) -> dict[str, Any]:
        response = self.call(
            "POST", "/api/v1/memories", key, json={"user_id": user_id, "content": content, **fields}
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def search(self, query: str, user_id: str = "u1", key: str | None = None, **options: Any) -> Any:
        return self.call(
            "POST", "/api/v1/memories/search", key, json={"user_id": user_id, "query": query, **options}
        )


@contextlib.contextmanager
def open_api(settings: Settings) -> Iterator[Api]:
    """A served app on `settings` with keys for two tenants and a read-only key."""
    store = build_store(settings)
    alice = issue_key(store.keys, tenant_name="acme", name="alice").plaintext
    bob = issue_key(store.keys, tenant_name="globex", name="bob").plaintext
    reader = issue_key(store.keys, tenant_name="acme", name="reader", scopes=("memories:read",)).plaintext
    store.close()
    with TestClient(create_app(settings)) as client:
        yield Api(client, alice, bob, reader, settings)


@pytest.fixture
def api(make_settings: Callable[..., Settings]) -> Iterator[Api]:
    with open_api(make_settings()) as served:
        yield served


@pytest.fixture
def fast_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Settings for account tests (cheap argon2, short lockout: tests/api/accounts_support.py FAST)."""
    from tests.api.accounts_support import FAST

    return make_settings(**FAST)


@pytest.fixture
def account_api(fast_settings: Settings) -> Iterator[Any]:
    """Tenant admin keys of acme and globex over an app with `fast_settings` (an `AccountsApi`)."""
    from tests.api.accounts_support import open_accounts

    yield from open_accounts(fast_settings)
