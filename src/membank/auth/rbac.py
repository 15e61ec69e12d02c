"""Roles and the permissions they grant (docs/security.md, "Roles").

Built-in roles are the same in every tenant and their names are reserved; a tenant may define custom roles
of its own (the `roles` table). An API key's scopes are a ceiling over what its roles grant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

from membank.models.principal import ACTIONS, RESOURCES, Permission

_MEMORY_WORK = ("read", "write", "delete")


def _grants(scope: str, *pairs: tuple[str, str]) -> frozenset[Permission]:
    return frozenset(Permission(resource, action, scope) for resource, action in pairs)


def _memory_work(scope: str) -> frozenset[Permission]:
    return _grants(scope, *(("memories", action) for action in _MEMORY_WORK), ("jobs", "read"))


_TENANT_WIDE = frozenset(Permission(r, a, "all") for r in RESOURCES for a in ACTIONS)

BUILTIN_ROLES: Mapping[str, frozenset[Permission]] = {
    # An end user's own memories (the end users bound to the principal).
    "user": _memory_work("own"),
    # The end users of the principal's teams.
    "member": _memory_work("team"),
    "team-admin": _memory_work("team") | _grants("team", ("users", "read"), ("users", "write")),
    # An application's key: every end user of the tenant, no administration.
    "service": _memory_work("all"),
    # Audit and reports (usage, statistics, who holds which key), never memory content.
    "auditor": _grants("all", ("audit", "read"), ("users", "read"), ("keys", "read"), ("jobs", "read")),
    "tenant-admin": _TENANT_WIDE,
    # Tenant-wide in its own tenant; another tenant only by naming it (X-MemBank-Tenant), audited.
    "platform-admin": _TENANT_WIDE,
}

BUILTIN_DESCRIPTIONS: Mapping[str, str] = {
    "user": "read, write and delete the memories of the end users bound to the principal",
    "member": "read, write and delete the memories of the end users of the principal's teams",
    "team-admin": "a member who also manages the team's accounts",
    "service": "an application: the memories of every end user of the tenant, no administration",
    "auditor": "audit events, usage and statistics, accounts and keys; no memory content",
    "tenant-admin": "everything within the tenant",
    "platform-admin": "everything within the tenant, and other tenants by explicit, audited request",
}


def is_builtin(name: str) -> bool:
    return name in BUILTIN_ROLES


def legacy_roles(scopes: Iterable[str]) -> list[str]:
    """The roles of a key made before roles existed: its scopes were all it had."""
    return ["tenant-admin"] if "admin" in scopes else ["service"]


def within_scopes(permissions: Iterable[Permission], scopes: Iterable[str]) -> frozenset[Permission]:
    """The permissions that a key's scope ceiling lets through (no scopes: no ceiling)."""
    allowed = set(scopes)
    if not allowed or "admin" in allowed:
        return frozenset(permissions)
    if "memories:write" in allowed:
        allowed.add("memories:delete")
    return frozenset(p for p in permissions if f"{p.resource}:{p.action}" in allowed)


def parse_permissions(texts: Iterable[str]) -> frozenset[Permission]:
    """Permissions from their `resource:action:scope` texts; ValueError on the first bad one."""
    return frozenset(Permission.parse(text) for text in texts)


class CustomRoles(Protocol):
    """A tenant's own roles (the roles table)."""

    def permissions_of(self, tenant_id: str, names: Collection[str]) -> Mapping[str, frozenset[Permission]]:
        """The permissions of each named custom role of the tenant that exists."""


class RoleCatalog:
    """Resolves role names to permissions: built-in roles first (their names are reserved), then the
    tenant's custom roles, read from the store only when a principal holds one (so a changed or deleted
    custom role takes effect on the next request). An unknown name grants nothing."""

    def __init__(self, custom: CustomRoles | None = None) -> None:
        self._custom = custom

    def unknown(self, tenant_id: str, names: Collection[str]) -> list[str]:
        """The names that are neither built-in nor a custom role of the tenant."""
        custom = [name for name in names if not is_builtin(name)]
        if not custom:
            return []
        known = self._custom.permissions_of(tenant_id, custom) if self._custom is not None else {}
        return sorted(name for name in custom if name not in known)

    def permissions(self, tenant_id: str, names: Collection[str]) -> frozenset[Permission]:
        granted: set[Permission] = set()
        custom = [name for name in names if not is_builtin(name)]
        for name in names:
            granted |= BUILTIN_ROLES.get(name, frozenset())
        if custom and self._custom is not None:
            for permissions in self._custom.permissions_of(tenant_id, custom).values():
                granted |= permissions
        return frozenset(granted)
