"""HTTP endpoints of access control: roles, teams, tenants (platform admins) and the security event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from membank.api.deps import (
    AdminWrite,
    AppContainer,
    AuditRead,
    PlatformAdmin,
    UsersRead,
    UsersWrite,
    require_recent_mfa,
)
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.auth.directory import ROLE_NAME_PATTERN, Directory
from membank.auth.rbac import BUILTIN_DESCRIPTIONS, BUILTIN_ROLES
from membank.errors import (
    Conflict,
    InvalidUserId,
    RoleNotFound,
    StepUpRequired,
    TeamNotFound,
    ValidationFailed,
)
from membank.memories.schemas import IDENTIFIER_PATTERN, UtcDatetime
from membank.models import Tenant, from_epoch, iso, to_epoch
from membank.models.principal import ACTIONS, REACHES, RESOURCES
from membank.storage.ports.access import CustomRole, Team
from membank.storage.ports.security_events import SecurityEvent

router = APIRouter(prefix="/api/v1", tags=["access"])


RoleName = Annotated[str, Path(max_length=48)]
TeamId = Annotated[str, Path(max_length=64)]
UserIdPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]
_Permissions = Field(max_length=len(BUILTIN_ROLES["tenant-admin"]))
# Every `resource:action:scope` text there is, so the document states the grammar the server checks.
PermissionText = Annotated[
    str, Field(pattern=f"^({'|'.join(RESOURCES)}):({'|'.join(ACTIONS)}):({'|'.join(REACHES)})$")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleIn(_Strict):
    name: str = Field(pattern=ROLE_NAME_PATTERN)
    description: str = Field(default="", max_length=500)
    permissions: list[PermissionText] = _Permissions


class RolePatch(_Strict):
    description: str | None = Field(default=None, max_length=500)
    permissions: list[PermissionText] | None = _Permissions


class NameIn(_Strict):
    name: str = Field(min_length=1, max_length=100)


class RoleOut(BaseModel):
    name: str
    builtin: bool
    description: str
    permissions: list[str]
    created_at: str | None = None
    updated_at: str | None = None


class RolesOut(BaseModel):
    roles: list[RoleOut]


class TeamOut(BaseModel):
    id: str
    name: str
    created_at: str


class TeamsOut(BaseModel):
    teams: list[TeamOut]


class MembersOut(BaseModel):
    team_id: str
    user_ids: list[str]


class MembershipOut(BaseModel):
    team_id: str
    user_id: str
    member: bool


class RemovedOut(BaseModel):
    id: str | None = None
    name: str | None = None
    deleted: bool


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: str


class TenantsOut(BaseModel):
    tenants: list[TenantOut]


class SecurityEventOut(BaseModel):
    id: int | None
    at: str
    kind: str
    outcome: str
    actor: str
    target: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]


class SecurityEventsOut(BaseModel):
    events: list[SecurityEventOut]
    next_after_id: int | None


def _role_out(role: CustomRole) -> dict[str, Any]:
    return {
        "name": role.name,
        "builtin": False,
        "description": role.description,
        "permissions": sorted(str(p) for p in role.permissions),
        "created_at": iso(from_epoch(role.created_at)),
        "updated_at": iso(from_epoch(role.updated_at)),
    }


def _team_out(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "created_at": iso(from_epoch(team.created_at))}


def _tenant_out(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, "name": tenant.name, "created_at": iso(tenant.created_at)}


def _event_out(event: SecurityEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": iso(from_epoch(event.at)),
        "kind": event.kind,
        "outcome": event.outcome,
        "actor": event.actor,
        "target": event.target,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "details": event.details,
    }


def _directory(container: AppContainer) -> Directory:
    return container.directory


@router.get("/roles", response_model=Envelope[RolesOut], responses=error_responses(*AUTHENTICATED))
async def list_roles(principal: UsersRead, container: AppContainer) -> Response:
    """The built-in roles with their permissions, then the tenant's custom roles."""
    builtin = [
        {
            "name": name,
            "builtin": True,
            "description": BUILTIN_DESCRIPTIONS[name],
            "permissions": sorted(str(p) for p in permissions),
        }
        for name, permissions in BUILTIN_ROLES.items()
    ]
    custom = [_role_out(role) for role in await _directory(container).roles(principal)]
    return ok({"roles": builtin + custom})


@router.post(
    "/roles",
    response_model=Envelope[RoleOut],
    status_code=201,
    responses=error_responses(ValidationFailed, *AUTHENTICATED, StepUpRequired, Conflict, *WITH_BODY),
)
async def create_role(body: RoleIn, principal: AdminWrite, container: AppContainer) -> Response:
    """A custom role of the tenant; it may grant only what the caller holds."""
    require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    role = await _directory(container).create_role(principal, body.name, body.description, body.permissions)
    return ok(_role_out(role), status=201)


@router.patch(
    "/roles/{name}",
    response_model=Envelope[RoleOut],
    responses=error_responses(
        ValidationFailed, *AUTHENTICATED, StepUpRequired, RoleNotFound, Conflict, *WITH_BODY
    ),
)
async def update_role(
    name: RoleName, body: RolePatch, principal: AdminWrite, container: AppContainer
) -> Response:
    """Change a custom role; whoever holds it gets the new permissions from the next request on."""
    require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    role = await _directory(container).update_role(principal, name, body.description, body.permissions)
    return ok(_role_out(role))


@router.delete(
    "/roles/{name}",
    response_model=Envelope[RemovedOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, StepUpRequired, RoleNotFound, Conflict),
)
async def delete_role(name: RoleName, principal: AdminWrite, container: AppContainer) -> Response:
    """Remove a custom role; it grants nothing from the next request on."""
    require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    await _directory(container).delete_role(principal, name)
    return ok({"name": name, "deleted": True})


@router.get("/teams", response_model=Envelope[TeamsOut], responses=error_responses(*AUTHENTICATED))
async def list_teams(principal: UsersRead, container: AppContainer) -> Response:
    """The tenant's teams (a team admin: its own)."""
    return ok({"teams": [_team_out(t) for t in await _directory(container).teams(principal)]})


@router.post(
    "/teams",
    response_model=Envelope[TeamOut],
    status_code=201,
    responses=error_responses(ValidationFailed, *AUTHENTICATED, Conflict, *WITH_BODY),
)
async def create_team(body: NameIn, principal: UsersWrite, container: AppContainer) -> Response:
    """A new team of end users."""
    return ok(_team_out(await _directory(container).create_team(principal, body.name)), status=201)


@router.get(
    "/teams/{team_id}/members",
    response_model=Envelope[MembersOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, TeamNotFound),
)
async def list_members(team_id: TeamId, principal: UsersRead, container: AppContainer) -> Response:
    """A team's end users."""
    return ok({"team_id": team_id, "user_ids": await _directory(container).members(principal, team_id)})


@router.put(
    "/teams/{team_id}/members/{user_id}",
    response_model=Envelope[MembershipOut],
    responses=error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED, TeamNotFound),
)
async def add_member(
    team_id: TeamId, user_id: UserIdPath, principal: UsersWrite, container: AppContainer
) -> Response:
    """Put an end user in the team (again: no change)."""
    await _directory(container).add_member(principal, team_id, user_id)
    return ok({"team_id": team_id, "user_id": user_id, "member": True})


@router.delete(
    "/teams/{team_id}/members/{user_id}",
    response_model=Envelope[MembershipOut],
    responses=error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED, TeamNotFound),
)
async def remove_member(
    team_id: TeamId, user_id: UserIdPath, principal: UsersWrite, container: AppContainer
) -> Response:
    """Take an end user out of the team."""
    await _directory(container).remove_member(principal, team_id, user_id)
    return ok({"team_id": team_id, "user_id": user_id, "member": False})


@router.delete(
    "/teams/{team_id}",
    response_model=Envelope[RemovedOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, TeamNotFound),
)
async def delete_team(team_id: TeamId, principal: UsersWrite, container: AppContainer) -> Response:
    """Remove a team; its members lose nothing but the team."""
    await _directory(container).delete_team(principal, team_id)
    return ok({"id": team_id, "deleted": True})


@router.get("/tenants", response_model=Envelope[TenantsOut], responses=error_responses(*AUTHENTICATED))
async def list_tenants(principal: PlatformAdmin, container: AppContainer) -> Response:
    """Every tenant (platform admins)."""
    return ok({"tenants": [_tenant_out(t) for t in await container.auth.tenants()]})


@router.post(
    "/tenants",
    response_model=Envelope[TenantOut],
    status_code=201,
    responses=error_responses(ValidationFailed, *AUTHENTICATED, Conflict, *WITH_BODY),
)
async def create_tenant(body: NameIn, principal: PlatformAdmin, container: AppContainer) -> Response:
    """A new tenant (platform admins); recorded as a security event."""
    tenant = await container.auth.create_tenant(body.name)
    await container.security_events.arecord(
        "tenant_create",
        outcome="ok",
        actor=principal.subject,
        tenant_id=tenant.id,
        target=f"tenant:{tenant.name}",
    )
    return ok(_tenant_out(tenant), status=201)


@router.get(
    "/security-events",
    response_model=Envelope[SecurityEventsOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def list_security_events(
    principal: AuditRead,
    container: AppContainer,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    since: UtcDatetime | None = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The tenant's security events, oldest first; page on with `after_id` (the last id seen)."""
    events = await container.security_events.alist(
        principal.tenant_id,
        kind=kind,
        since=to_epoch(since) if since else None,
        after_id=after_id,
        limit=limit,
    )
    next_after = events[-1].id if len(events) == limit else None
    return ok({"events": [_event_out(e) for e in events], "next_after_id": next_after})
