"""Custom roles and teams on SQLite and PostgreSQL: names unique per tenant, every read scoped by tenant."""

from __future__ import annotations

from membank.models.principal import Permission
from membank.storage.ports import CustomRole, Team
from membank.storage.sql.access import SqlRoleRepository, SqlTeamRepository
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.keys import SqlKeyRepository

READ_ALL = frozenset({Permission("memories", "read", "all")})


def _tenants(sql_db: SqlDatabase) -> tuple[str, str]:
    keys = SqlKeyRepository(sql_db)
    return keys.ensure_tenant("acme").id, keys.ensure_tenant("globex").id


def test_roles_are_unique_per_tenant_and_changed_in_place(sql_db: SqlDatabase) -> None:
    acme, globex = _tenants(sql_db)
    roles = SqlRoleRepository(sql_db)
    assert roles.create_role(CustomRole("r1", acme, "reader", "", READ_ALL, 1.0, 1.0))
    assert not roles.create_role(CustomRole("r2", acme, "reader", "again", frozenset(), 2.0, 2.0))
    assert roles.create_role(CustomRole("r3", globex, "reader", "", frozenset(), 1.0, 1.0))
    assert roles.permissions_of(acme, ["reader", "ghost"]) == {"reader": READ_ALL}
    assert roles.permissions_of(globex, ["reader"]) == {"reader": frozenset()}
    own = frozenset({Permission("memories", "read", "own")})
    assert roles.update_role(CustomRole("r1", acme, "reader", "narrower", own, 1.0, 3.0))
    found = roles.role(acme, "reader")
    assert found is not None and found.permissions == own and found.description == "narrower"
    assert [r.name for r in roles.roles(acme)] == ["reader"]
    assert roles.delete_role(acme, "reader") and not roles.delete_role(acme, "reader")
    assert roles.permissions_of(acme, ["reader"]) == {}
    assert roles.role(globex, "reader") is not None


def test_team_members_are_reached_only_through_the_tenants_teams(sql_db: SqlDatabase) -> None:
    acme, globex = _tenants(sql_db)
    teams = SqlTeamRepository(sql_db)
    assert teams.create_team(Team("red", acme, "red", 1.0))
    assert not teams.create_team(Team("red2", acme, "red", 2.0))
    assert teams.create_team(Team("blue", globex, "blue", 1.0))
    assert teams.add_member(acme, "red", "u1", 1.0) and teams.add_member(acme, "red", "u1", 2.0)
    assert not teams.add_member(acme, "blue", "u1", 1.0)  # globex's team, named from acme
    assert teams.add_member(globex, "blue", "u1", 1.0)
    assert teams.teams_of(acme, "u1") == {"red"} and teams.teams_of(globex, "u1") == {"blue"}
    assert teams.members(acme, "red") == ["u1"] and teams.members(acme, "blue") == []
    assert [t.id for t in teams.teams(acme)] == ["red"] and teams.teams(acme, ["blue"]) == []
    assert not teams.remove_member(acme, "blue", "u1")
    assert teams.members(globex, "blue") == ["u1"]
    assert not teams.delete_team(acme, "blue")
    assert teams.delete_team(acme, "red") and teams.teams_of(acme, "u1") == frozenset()
    assert teams.team(acme, "red") is None and teams.team(globex, "blue") is not None
