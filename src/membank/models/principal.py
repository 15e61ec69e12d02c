"""Who is calling: tenants, API keys, permissions and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The scopes an API key may be limited to (a ceiling over what its roles grant). `memories:write` includes
# deleting, as it always has; `admin` lifts the ceiling.
ALL_SCOPES = (
    "memories:read",
    "memories:write",
    "memories:delete",
    "jobs:read",
    "users:read",
    "users:write",
    "keys:read",
    "keys:write",
    "audit:read",
    "admin",
)

RESOURCES = ("memories", "jobs", "users", "keys", "audit", "admin")
ACTIONS = ("read", "write", "delete", "admin")
# Widest last: a grant of a wider scope covers the narrower ones.
REACHES = ("own", "team", "all")


@dataclass(frozen=True, slots=True, order=True)
class Permission:
    """What may be done (action) to what (resource) for whom (scope: the principal's own end users, its
    teams' end users, or the whole tenant)."""

    resource: str
    action: str
    scope: str

    @classmethod
    def parse(cls, text: str) -> Permission:
        """`resource:action:scope`, e.g. `memories:read:own`; ValueError naming what is wrong."""
        parts = text.strip().split(":")
        if len(parts) != 3:
            raise ValueError(f"{text!r} is not resource:action:scope")
        resource, action, scope = parts
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; known: {list(RESOURCES)}")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {list(ACTIONS)}")
        if scope not in REACHES:
            raise ValueError(f"unknown scope {scope!r}; known: {list(REACHES)}")
        return cls(resource, action, scope)

    def __str__(self) -> str:
        return f"{self.resource}:{self.action}:{self.scope}"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(slots=True)
class ApiKey:
    """An API key as stored: only a hash of the secret, plus a public prefix for lookup.

    `roles` None is a key from before roles existed: its scopes alone say what it may do. `user_ids` /
    `team_ids` bind the key to end users or teams (what `own` / `team` permissions reach)."""

    id: str
    tenant_id: str
    name: str
    prefix: str
    secret_hash: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    roles: list[str] | None = None
    user_ids: list[str] | None = None
    team_ids: list[str] | None = None
    service_account_id: str | None = None
    expires_at: datetime | None = None
    allowed_ips: list[str] | None = None  # CIDRs; None: any address
    require_signature: bool = False
    # After a rotation the previous secret still works until `previous_valid_until` (epoch seconds).
    previous_secret_hash: str | None = None
    previous_valid_until: float | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity a request acts as, with the permissions its roles grant.

    `kind` is api_key, user (a human account, JWT), anonymous (auth disabled on loopback) or system (a
    worker acting for the principal that enqueued a job: its access was checked when the job was accepted).
    `user_ids` are the agent end users bound to it (None: none), `team_ids` its teams."""

    tenant_id: str
    subject: str
    kind: str = "api_key"
    roles: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    user_ids: frozenset[str] | None = None
    team_ids: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    mfa_at: float | None = None
    # A login session of an account that must change its password first (must_change_password).
    password_change_required: bool = False

    @classmethod
    def system(cls, tenant_id: str, actor: str) -> Principal:
        """The principal a worker runs a job as: the tenant's whole reach, the enqueuing actor's name."""
        return cls(
            tenant_id=tenant_id,
            subject=actor,
            kind="system",
            permissions=frozenset(Permission(r, a, "all") for r in RESOURCES for a in ACTIONS),
        )

    def reach(self, resource: str, action: str) -> str | None:
        """The widest scope this principal may `action` `resource` in, or None."""
        widest: str | None = None
        for permission in self.permissions:
            granted = permission.resource == resource and permission.action == action
            if granted and (widest is None or REACHES.index(permission.scope) > REACHES.index(widest)):
                widest = permission.scope
        return widest

    def can(self, wanted: str) -> bool:
        """Whether any scope of `resource:action` is granted (`admin` alone: tenant administration)."""
        resource, _, action = wanted.partition(":")
        return self.reach(resource, action or "admin") is not None

    @property
    def is_platform_admin(self) -> bool:
        return "platform-admin" in self.roles
