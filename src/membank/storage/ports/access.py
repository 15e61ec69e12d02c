"""Custom roles and teams of a tenant: what RBAC resolves role names and `team` reach against."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from membank.models.principal import Permission

__all__ = ["CustomRole", "RoleRepository", "Team", "TeamMembership", "TeamRepository"]


@dataclass(frozen=True, slots=True)
class CustomRole:
    """A tenant's own role: a name (never a built-in's) and the permissions it grants."""

    id: str
    tenant_id: str
    name: str
    description: str
    permissions: frozenset[Permission]
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Team:
    """A named group of a tenant's agent end users (memories' user_id)."""

    id: str
    tenant_id: str
    name: str
    created_at: float


class RoleRepository(Protocol):
    """A tenant's custom roles. Every method takes the tenant: there is no role outside one."""

    def roles(self, tenant_id: str) -> list[CustomRole]:
        """The tenant's custom roles by name."""

    def role(self, tenant_id: str, name: str) -> CustomRole | None:
        """One custom role by name, or None."""

    def create_role(self, role: CustomRole) -> bool:
        """Store a new role; False when the tenant already has one of that name (nothing written)."""

    def update_role(self, role: CustomRole) -> bool:
        """Replace the description and permissions of the tenant's role of that name; False if none."""

    def delete_role(self, tenant_id: str, name: str) -> bool:
        """Remove a role; False when there was none."""

    def permissions_of(self, tenant_id: str, names: Collection[str]) -> Mapping[str, frozenset[Permission]]:
        """The permissions of each named role of the tenant that exists (auth.rbac.CustomRoles)."""


class TeamMembership(Protocol):
    """The one question access checks ask about teams."""

    def teams_of(self, tenant_id: str, user_id: str) -> frozenset[str]:
        """The ids of the tenant's teams the end user belongs to."""


class TeamRepository(TeamMembership, Protocol):
    """A tenant's teams and their end users."""

    def create_team(self, team: Team) -> bool:
        """Store a new team; False when the tenant already has one of that name."""

    def teams(self, tenant_id: str, team_ids: Collection[str] | None = None) -> list[Team]:
        """The tenant's teams by name (only those of `team_ids` when given)."""

    def team(self, tenant_id: str, team_id: str) -> Team | None:
        """One team of the tenant, or None."""

    def delete_team(self, tenant_id: str, team_id: str) -> bool:
        """Remove a team and its memberships; False when the tenant has no such team."""

    def add_member(self, tenant_id: str, team_id: str, user_id: str, at: float) -> bool:
        """Add an end user to a team of the tenant (again: no change); False when there is no such team."""

    def remove_member(self, tenant_id: str, team_id: str, user_id: str) -> bool:
        """Remove an end user from a team of the tenant; False when it was not a member."""

    def members(self, tenant_id: str, team_id: str) -> list[str]:
        """The end users of a team of the tenant, sorted (none for another tenant's team)."""
