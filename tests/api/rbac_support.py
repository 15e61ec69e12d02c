"""Keys with roles and bound end users or teams, written straight to the store (the keys slice owns the API)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from membank.api import create_app
from membank.auth.keys import hash_secret, split_key
from membank.bootstrap import build_store
from membank.config import Settings
from membank.models import ApiKey, now_utc
from membank.storage.ports import RecordStore


def role_key(
    store: RecordStore,
    tenant: str,
    roles: list[str],
    *,
    user_ids: list[str] | None = None,
    team_ids: list[str] | None = None,
) -> str:
    plaintext = f"mbk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32).replace('_', '-')}"
    prefix, secret = split_key(plaintext)
    store.keys.create_key(
        ApiKey(
            id=str(uuid.uuid4()),
            tenant_id=store.keys.ensure_tenant(tenant).id,
            name="-".join(roles),
            prefix=prefix,
            secret_hash=hash_secret(secret),
            scopes=[],
            created_at=now_utc(),
            roles=roles,
            user_ids=user_ids,
            team_ids=team_ids,
        )
    )
    return plaintext


@dataclass
class Served:
    client: TestClient
    store: RecordStore
    keys: dict[str, str]

    def call(self, method: str, path: str, key: str, **kwargs: Any) -> Any:
        headers = {"X-API-Key": self.keys[key], **(kwargs.pop("headers", None) or {})}
        return self.client.request(method, path, headers=headers, **kwargs)


@contextmanager
def serve(settings: Settings) -> Iterator[Served]:
    """The app with one key per built-in role in tenant acme (u1 is `user`'s own; team t-red holds u2)."""
    store = build_store(settings)
    tenant_id = store.keys.ensure_tenant("acme").id
    store.keys.ensure_tenant("globex")
    from membank.storage.ports import Team

    store.teams.create_team(Team("t-red", tenant_id, "red", 0.0))
    store.teams.add_member(tenant_id, "t-red", "u2", 0.0)
    keys = {
        "user": role_key(store, "acme", ["user"], user_ids=["u1"]),
        "member": role_key(store, "acme", ["member"], team_ids=["t-red"]),
        "team-admin": role_key(store, "acme", ["team-admin"], team_ids=["t-red"]),
        "service": role_key(store, "acme", ["service"]),
        "auditor": role_key(store, "acme", ["auditor"]),
        "tenant-admin": role_key(store, "acme", ["tenant-admin"]),
        "platform-admin": role_key(store, "acme", ["platform-admin"]),
        "globex-admin": role_key(store, "globex", ["tenant-admin"]),
    }
    with TestClient(create_app(settings)) as client:
        yield Served(client, store, keys)
    store.close()
