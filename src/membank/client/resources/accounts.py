"""client.accounts: the human accounts of the caller's tenant (tenant admins)."""

from __future__ import annotations

from typing import Any

from membank.client.endpoint import Parts, Resource, TransportT, body, endpoint
from membank.client.resources.answers import as_json

__all__ = ["Accounts"]


class Accounts(Resource[TransportT]):
    @endpoint("GET", "/api/v1/accounts", as_json)
    def list(self, *, limit: int | None = None, after: str | None = None) -> Parts:
        """One page of accounts, after the account id `after`."""
        return Parts(query={"limit": limit, "after": after})

    @endpoint("POST", "/api/v1/accounts", as_json)
    def create(self, /, email: str, *, password: str | None = None, **fields: Any) -> Parts:
        """A new account; `fields`: display_name, roles, team_ids, user_ids, must_change_password."""
        return Parts(json=body(email=email, password=password, **fields))

    @endpoint("GET", "/api/v1/accounts/{account_id}", as_json)
    def get(self, account_id: str) -> Parts:
        return Parts(path={"account_id": account_id})

    @endpoint("PATCH", "/api/v1/accounts/{account_id}", as_json)
    def update(self, /, account_id: str, **changes: Any) -> Parts:
        """Change display_name, roles, status, team_ids or user_ids."""
        return Parts(path={"account_id": account_id}, json=changes)

    @endpoint("DELETE", "/api/v1/accounts/{account_id}", as_json)
    def delete(self, account_id: str) -> Parts:
        """Disable an account (its sessions end)."""
        return Parts(path={"account_id": account_id})

    @endpoint("POST", "/api/v1/accounts/{account_id}/reset-mfa", as_json)
    def reset_mfa(self, account_id: str) -> Parts:
        return Parts(path={"account_id": account_id})

    @endpoint("POST", "/api/v1/accounts/{account_id}/reset-password", as_json)
    def reset_password(self, account_id: str, password: str) -> Parts:
        """Set a password the account must change at its next login."""
        return Parts(path={"account_id": account_id}, json={"password": password})

    @endpoint("DELETE", "/api/v1/accounts/{account_id}/sessions", as_json)
    def delete_sessions(self, account_id: str) -> Parts:
        """End every login session of an account."""
        return Parts(path={"account_id": account_id})

    @endpoint("POST", "/api/v1/accounts/{account_id}/unlock", as_json)
    def unlock(self, account_id: str) -> Parts:
        """Lift a lockout after failed logins."""
        return Parts(path={"account_id": account_id})
