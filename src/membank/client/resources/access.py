"""Access control: client.roles, client.teams, client.service_accounts, client.tenants, client.ip_rules."""

from __future__ import annotations

from collections.abc import Sequence

from membank.client.endpoint import Parts, Resource, TransportT, body, endpoint
from membank.client.resources.answers import as_json

__all__ = ["IpRules", "Roles", "ServiceAccounts", "Teams", "Tenants"]


class Roles(Resource[TransportT]):
    @endpoint("GET", "/api/v1/roles", as_json)
    def list(self) -> Parts:
        """The built-in roles and the tenant's own."""
        return Parts()

    @endpoint("POST", "/api/v1/roles", as_json)
    def create(self, name: str, permissions: Sequence[str], *, description: str | None = None) -> Parts:
        return Parts(json=body(name=name, permissions=list(permissions), description=description))

    @endpoint("PATCH", "/api/v1/roles/{name}", as_json)
    def update(self, name: str, permissions: Sequence[str], *, description: str | None = None) -> Parts:
        return Parts(path={"name": name}, json=body(permissions=list(permissions), description=description))

    @endpoint("DELETE", "/api/v1/roles/{name}", as_json)
    def delete(self, name: str) -> Parts:
        return Parts(path={"name": name})


class Teams(Resource[TransportT]):
    @endpoint("GET", "/api/v1/teams", as_json)
    def list(self) -> Parts:
        return Parts()

    @endpoint("POST", "/api/v1/teams", as_json)
    def create(self, name: str) -> Parts:
        return Parts(json={"name": name})

    @endpoint("DELETE", "/api/v1/teams/{team_id}", as_json)
    def delete(self, team_id: str) -> Parts:
        return Parts(path={"team_id": team_id})

    @endpoint("GET", "/api/v1/teams/{team_id}/members", as_json)
    def members(self, team_id: str) -> Parts:
        """The end users in a team."""
        return Parts(path={"team_id": team_id})

    @endpoint("PUT", "/api/v1/teams/{team_id}/members/{user_id}", as_json)
    def add_member(self, team_id: str, user_id: str) -> Parts:
        return Parts(path={"team_id": team_id, "user_id": user_id})

    @endpoint("DELETE", "/api/v1/teams/{team_id}/members/{user_id}", as_json)
    def remove_member(self, team_id: str, user_id: str) -> Parts:
        return Parts(path={"team_id": team_id, "user_id": user_id})


class ServiceAccounts(Resource[TransportT]):
    @endpoint("GET", "/api/v1/service-accounts", as_json)
    def list(self) -> Parts:
        return Parts()

    @endpoint("POST", "/api/v1/service-accounts", as_json)
    def create(self, name: str, *, description: str | None = None) -> Parts:
        return Parts(json=body(name=name, description=description))

    @endpoint("GET", "/api/v1/service-accounts/{service_account_id}", as_json)
    def get(self, service_account_id: str) -> Parts:
        return Parts(path={"service_account_id": service_account_id})

    @endpoint("POST", "/api/v1/service-accounts/{service_account_id}/disable", as_json)
    def disable(self, service_account_id: str) -> Parts:
        """Disable a service account: its keys stop working."""
        return Parts(path={"service_account_id": service_account_id})


class Tenants(Resource[TransportT]):
    @endpoint("GET", "/api/v1/tenants", as_json)
    def list(self) -> Parts:
        """Every tenant (platform admins)."""
        return Parts()

    @endpoint("POST", "/api/v1/tenants", as_json)
    def create(self, name: str) -> Parts:
        return Parts(json={"name": name})


class IpRules(Resource[TransportT]):
    @endpoint("GET", "/api/v1/ip-rules", as_json)
    def list(self, *, scope: str | None = None) -> Parts:
        """The IP rules of the tenant, or of the platform with `scope="platform"`."""
        return Parts(query={"scope": scope})

    @endpoint("POST", "/api/v1/ip-rules", as_json)
    def create(
        self,
        cidr: str,
        action: str,
        *,
        note: str | None = None,
        force: bool | None = None,
        scope: str | None = None,
    ) -> Parts:
        """Allow or deny a CIDR (`action`: allow or deny)."""
        return Parts(query={"scope": scope}, json=body(cidr=cidr, action=action, note=note, force=force))

    @endpoint("DELETE", "/api/v1/ip-rules/{rule_id}", as_json)
    def delete(self, rule_id: str, *, scope: str | None = None) -> Parts:
        return Parts(path={"rule_id": rule_id}, query={"scope": scope})
