"""Managing a tenant's custom roles and teams: who may, and what they may grant."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterable

from membank.auth.access import covers
from membank.auth.events import SecurityEvents
from membank.auth.rbac import RoleCatalog, is_builtin, parse_permissions
from membank.errors import Conflict, Forbidden, RoleNotFound, TeamNotFound, ValidationFailed
from membank.models import Principal
from membank.models.principal import Permission
from membank.storage.ports.access import CustomRole, RoleRepository, Team, TeamRepository

__all__ = ["ROLE_NAME_PATTERN", "Directory"]

ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,47}$"
_ROLE_NAME = re.compile(ROLE_NAME_PATTERN)


def _parsed(texts: Iterable[str]) -> frozenset[Permission]:
    for index, text in enumerate(texts):
        try:
            Permission.parse(text)
        except ValueError as exc:
            raise ValidationFailed(
                f"permissions[{index}] {text!r}: {exc}",
                details={"errors": [{"field": f"permissions.{index}", "reason": f"{text!r}: {exc}"}]},
            ) from None
    return parse_permissions(texts)


def _beyond(principal: Principal, permissions: Iterable[Permission]) -> list[str]:
    return sorted(str(p) for p in permissions if not covers(principal, p))


class Directory:
    """Custom roles (names of built-ins reserved; nobody grants more than it holds) and teams (tenant-wide
    `users:write` manages every team, a `team` scope only the principal's own)."""

    def __init__(self, roles: RoleRepository, teams: TeamRepository, events: SecurityEvents) -> None:
        self._roles = roles
        self._teams = teams
        self._events = events
        self._catalog = RoleCatalog(roles)

    async def roles(self, principal: Principal) -> list[CustomRole]:
        """The tenant's custom roles."""
        return await asyncio.to_thread(self._roles.roles, principal.tenant_id)

    async def require_grantable(self, principal: Principal, role_names: Iterable[str]) -> None:
        """Forbidden when the named roles grant anything beyond the principal's own permissions (for
        whoever assigns roles to keys and accounts)."""
        names = list(role_names)
        granted = await asyncio.to_thread(self._catalog.permissions, principal.tenant_id, names)
        beyond = _beyond(principal, granted)
        if beyond:
            raise Forbidden(
                f"these roles grant permissions beyond the caller's own: {beyond}",
                details={"permissions": beyond, "roles": names},
            )

    async def create_role(
        self, principal: Principal, name: str, description: str, permissions: list[str]
    ) -> CustomRole:
        """A new custom role; 409 for a built-in's or an existing name."""
        if is_builtin(name):
            raise Conflict(f"{name!r} is a built-in role: its name is reserved")
        if not _ROLE_NAME.match(name):
            raise ValidationFailed.field("name", f"must match {ROLE_NAME_PATTERN}")
        role = CustomRole(
            str(uuid.uuid4()), principal.tenant_id, name, description, self._grantable(principal, permissions),
            time.time(), time.time(),
        )  # fmt: skip
        if not await asyncio.to_thread(self._roles.create_role, role):
            raise Conflict(f"the tenant already has a role named {name!r}")
        await self._changed(principal, role, "create")
        return role

    async def update_role(
        self, principal: Principal, name: str, description: str | None, permissions: list[str] | None
    ) -> CustomRole:
        """Change a custom role's description or permissions; effective from the next request on."""
        current = await self._existing(principal, name)
        changed = CustomRole(
            current.id,
            current.tenant_id,
            name,
            description if description is not None else current.description,
            self._grantable(principal, permissions) if permissions is not None else current.permissions,
            current.created_at,
            time.time(),
        )
        if not await asyncio.to_thread(self._roles.update_role, changed):
            raise RoleNotFound(f"role {name!r} not found")
        await self._changed(principal, changed, "update")
        return changed

    async def delete_role(self, principal: Principal, name: str) -> None:
        """Remove a custom role: whoever holds it is granted nothing by it from the next request on."""
        role = await self._existing(principal, name)
        if not await asyncio.to_thread(self._roles.delete_role, principal.tenant_id, name):
            raise RoleNotFound(f"role {name!r} not found")
        await self._changed(principal, role, "delete")

    async def _existing(self, principal: Principal, name: str) -> CustomRole:
        if is_builtin(name):
            raise Conflict(f"{name!r} is a built-in role: it cannot be changed")
        role = await asyncio.to_thread(self._roles.role, principal.tenant_id, name)
        if role is None:
            raise RoleNotFound(f"role {name!r} not found")
        return role

    def _grantable(self, principal: Principal, texts: list[str]) -> frozenset[Permission]:
        permissions = _parsed(texts)
        beyond = _beyond(principal, permissions)
        if beyond:
            raise Forbidden(
                f"a role may not grant permissions beyond the caller's own: {beyond}",
                details={"permissions": beyond},
            )
        return permissions

    async def _changed(self, principal: Principal, role: CustomRole, action: str) -> None:
        await self._events.arecord(
            "role_change",
            outcome="ok",
            actor=principal.subject,
            tenant_id=principal.tenant_id,
            target=f"role:{role.name}",
            details={"action": action, "permissions": sorted(str(p) for p in role.permissions)},
        )

    # Teams ---------------------------------------------------------------------------------------------

    async def teams(self, principal: Principal) -> list[Team]:
        """The tenant's teams; a `team`-scoped reader sees only its own."""
        only = None if principal.reach("users", "read") == "all" else principal.team_ids
        return await asyncio.to_thread(self._teams.teams, principal.tenant_id, only)

    async def create_team(self, principal: Principal, name: str) -> Team:
        """A new team (tenant-wide users:write)."""
        self._require_tenant_wide(principal)
        team = Team(str(uuid.uuid4()), principal.tenant_id, name, time.time())
        if not await asyncio.to_thread(self._teams.create_team, team):
            raise Conflict(f"the tenant already has a team named {name!r}")
        return team

    async def delete_team(self, principal: Principal, team_id: str) -> None:
        """Remove a team and its memberships (tenant-wide users:write)."""
        self._require_tenant_wide(principal)
        if not await asyncio.to_thread(self._teams.delete_team, principal.tenant_id, team_id):
            raise TeamNotFound(f"team {team_id} not found")

    async def members(self, principal: Principal, team_id: str) -> list[str]:
        """A team's end users."""
        await self._visible_team(principal, team_id, "read")
        return await asyncio.to_thread(self._teams.members, principal.tenant_id, team_id)

    async def add_member(self, principal: Principal, team_id: str, user_id: str) -> None:
        """Put an end user in a team the principal manages."""
        await self._visible_team(principal, team_id, "write")
        await asyncio.to_thread(self._teams.add_member, principal.tenant_id, team_id, user_id, time.time())

    async def remove_member(self, principal: Principal, team_id: str, user_id: str) -> None:
        """Take an end user out of a team the principal manages."""
        await self._visible_team(principal, team_id, "write")
        await asyncio.to_thread(self._teams.remove_member, principal.tenant_id, team_id, user_id)

    async def _visible_team(self, principal: Principal, team_id: str, action: str) -> None:
        scope = principal.reach("users", action)
        own_team = scope == "team" and team_id in principal.team_ids
        if scope != "all" and not own_team:
            if principal.reach("users", "read") == "all" or team_id in principal.team_ids:
                raise Forbidden(
                    f"this principal may not {action} team {team_id}",
                    details={"permission": f"users:{action}", "team_id": team_id},
                )
            raise TeamNotFound(f"team {team_id} not found")
        if await asyncio.to_thread(self._teams.team, principal.tenant_id, team_id) is None:
            raise TeamNotFound(f"team {team_id} not found")

    @staticmethod
    def _require_tenant_wide(principal: Principal) -> None:
        if principal.reach("users", "write") != "all":
            raise Forbidden(
                "creating and removing teams needs tenant-wide users:write",
                details={"permission": "users:write:all"},
            )
