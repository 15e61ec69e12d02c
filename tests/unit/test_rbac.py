"""Permissions, built-in roles, the scope ceiling of keys, and how a key becomes a principal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from membank.auth.rbac import BUILTIN_ROLES, RoleCatalog, legacy_roles, parse_permissions, within_scopes
from membank.auth.service import AuthService
from membank.models import ApiKey, Principal, now_utc
from membank.models.principal import Permission


def test_permissions_parse_and_name_what_is_wrong() -> None:
    assert Permission.parse("memories:read:own") == Permission("memories", "read", "own")
    assert str(Permission.parse(" audit:read:all ")) == "audit:read:all"
    for bad, named in (
        ("memories:read", "resource:action:scope"),
        ("secrets:read:all", "unknown resource 'secrets'"),
        ("memories:steal:all", "unknown action 'steal'"),
        ("memories:read:world", "unknown scope 'world'"),
    ):
        with pytest.raises(ValueError, match=named):
            Permission.parse(bad)
    with pytest.raises(ValueError):
        parse_permissions(["memories:read:own", "keys:read"])


def test_reach_is_the_widest_scope_granted() -> None:
    principal = Principal(
        tenant_id="t",
        subject="s",
        permissions=parse_permissions(["memories:read:own", "memories:read:team", "memories:write:own"]),
    )
    assert principal.reach("memories", "read") == "team"
    assert principal.reach("memories", "write") == "own"
    assert principal.reach("memories", "delete") is None
    assert principal.can("memories:read") and not principal.can("memories:delete")
    assert not principal.can("admin")


def test_builtin_roles_grant_what_their_names_say() -> None:
    def reach(role: str, resource: str, action: str) -> str | None:
        return Principal("t", "s", permissions=BUILTIN_ROLES[role]).reach(resource, action)

    assert reach("user", "memories", "read") == "own" and reach("user", "users", "read") is None
    assert reach("member", "memories", "delete") == "team"
    assert reach("team-admin", "users", "write") == "team"
    assert reach("service", "memories", "write") == "all" and reach("service", "keys", "read") is None
    # An auditor reads audit events and reports, never memory content.
    assert reach("auditor", "audit", "read") == "all" and reach("auditor", "memories", "read") is None
    assert reach("tenant-admin", "admin", "admin") == "all"
    assert Principal("t", "s", roles=frozenset({"platform-admin"})).is_platform_admin


def test_a_key_scope_ceiling_limits_its_roles() -> None:
    admin = BUILTIN_ROLES["tenant-admin"]
    read_only = within_scopes(admin, ["memories:read", "jobs:read"])
    assert {f"{p.resource}:{p.action}" for p in read_only} == {"memories:read", "jobs:read"}
    # memories:write has always included deleting; no scopes or `admin` lift the ceiling.
    assert Permission("memories", "delete", "all") in within_scopes(admin, ["memories:write"])
    assert within_scopes(admin, []) == admin and within_scopes(admin, ["admin"]) == admin
    assert legacy_roles(["admin"]) == ["tenant-admin"]
    assert legacy_roles(["memories:read"]) == ["service"]


class _Custom:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def permissions_of(self, tenant_id: str, names: object) -> dict[str, frozenset[Permission]]:
        self.asked.append(sorted(names))  # type: ignore[call-overload]
        return {"reader": parse_permissions(["memories:read:all"])} if tenant_id == "t1" else {}


def test_custom_roles_are_read_only_for_principals_holding_one() -> None:
    custom = _Custom()
    catalog = RoleCatalog(custom)
    assert catalog.permissions("t1", ["user"]) == BUILTIN_ROLES["user"]
    assert custom.asked == []  # built-in roles need no read
    assert catalog.permissions("t1", ["reader", "ghost"]) == parse_permissions(["memories:read:all"])
    assert catalog.permissions("t2", ["reader"]) == frozenset()  # another tenant's role name grants nothing
    assert custom.asked == [["ghost", "reader"], ["reader"]]


def _stored_key(**fields: object) -> ApiKey:
    values: dict[str, object] = {
        "id": "k",
        "tenant_id": "t",
        "name": "k",
        "prefix": "p",
        "secret_hash": "h",
        "scopes": [],
        "created_at": now_utc(),
    }
    values.update(fields)
    return ApiKey(**values)  # type: ignore[arg-type]


def test_a_key_becomes_a_principal_of_its_roles_bindings_and_ceiling() -> None:
    auth = AuthService(keys=None, enabled=True)  # type: ignore[arg-type]  # key_principal reads no store
    legacy = auth.key_principal(_stored_key(scopes=["memories:read", "memories:write", "jobs:read"]))
    assert legacy.roles == {"service"} and legacy.reach("memories", "delete") == "all"
    assert legacy.reach("keys", "read") is None and legacy.user_ids is None
    bound = auth.key_principal(_stored_key(roles=["user"], user_ids=["alice"], team_ids=["red"]))
    assert bound.reach("memories", "write") == "own"
    assert bound.user_ids == {"alice"} and bound.team_ids == {"red"}
    capped = auth.key_principal(_stored_key(roles=["tenant-admin"], scopes=["memories:read"]))
    assert capped.can("memories:read") and not capped.can("memories:write") and not capped.can("admin")


def test_an_expired_key_is_refused() -> None:
    from membank.errors import Unauthorized

    class _Keys:
        def key_by_prefix(self, prefix: str) -> ApiKey:
            from membank.auth.keys import hash_secret

            return _stored_key(secret_hash=hash_secret("s"), expires_at=now_utc() - timedelta(seconds=1))

    auth = AuthService(_Keys(), enabled=True)  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="expired"):
        auth._verify("mbk_0123456789ab_s")
