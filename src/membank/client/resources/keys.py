"""client.keys: API keys of the caller's tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from membank.client.endpoint import Parts, Resource, TransportT, body, endpoint
from membank.client.models import ApiKey, IssuedKey
from membank.client.resources.answers import as_json

__all__ = ["Keys"]


def _keys(data: Any) -> list[ApiKey]:
    return [ApiKey.model_validate(key) for key in data["keys"]]


class Keys(Resource[TransportT]):
    @endpoint("POST", "/api/v1/keys", IssuedKey.model_validate)
    def create(
        self,
        /,
        name: str,
        *,
        scopes: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        **fields: Any,
    ) -> Parts:
        """A new key; its secret (`key`) is in this answer only. `fields`: user_ids, team_ids,
        service_account_id, allowed_ips, expires_at, require_signature."""
        return Parts(
            json=body(
                name=name,
                scopes=list(scopes) if scopes is not None else None,
                roles=list(roles) if roles is not None else None,
                **fields,
            )
        )

    @endpoint("GET", "/api/v1/keys", _keys)
    def list(self) -> Parts:
        """The tenant's keys (revoked ones included)."""
        return Parts()

    @endpoint("GET", "/api/v1/keys/{key_id}", ApiKey.model_validate)
    def get(self, key_id: str) -> Parts:
        return Parts(path={"key_id": key_id})

    @endpoint("DELETE", "/api/v1/keys/{key_id}", ApiKey.model_validate)
    def delete(self, key_id: str) -> Parts:
        """Delete a key (it stops working at once)."""
        return Parts(path={"key_id": key_id})

    @endpoint("POST", "/api/v1/keys/{key_id}/revoke", ApiKey.model_validate)
    def revoke(self, key_id: str) -> Parts:
        """Revoke a key: it stays listed, refused from now on."""
        return Parts(path={"key_id": key_id})

    @endpoint("POST", "/api/v1/keys/{key_id}/rotate", IssuedKey.model_validate)
    def rotate(self, key_id: str, *, grace_seconds: int | None = None) -> Parts:
        """A new secret for a key; the old one keeps working for `grace_seconds`."""
        return Parts(path={"key_id": key_id}, json=body(grace_seconds=grace_seconds))

    @endpoint("GET", "/api/v1/keys/{key_id}/usage", as_json)
    def usage(self, key_id: str, *, days: int | None = None) -> Parts:
        """Requests per day of a key."""
        return Parts(path={"key_id": key_id}, query={"days": days})
