"""Custom roles and teams on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import RowMapping, Select, delete, select, update

from membank.models.principal import Permission
from membank.storage.ports.access import CustomRole, Team
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import roles, team_members, teams
from membank.storage.sql.upsert import upsert_insert

__all__ = ["SqlRoleRepository", "SqlTeamRepository"]


def _permissions(text: str) -> frozenset[Permission]:
    # Stored texts were parsed when written; one that no longer parses (an older vocabulary) grants nothing.
    granted: set[Permission] = set()
    for item in loads(text):
        try:
            granted.add(Permission.parse(item))
        except ValueError:
            continue
    return frozenset(granted)


def _role_from_row(row: RowMapping) -> CustomRole:
    return CustomRole(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        description=row["description"],
        permissions=_permissions(row["permissions"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _permission_texts(permissions: frozenset[Permission]) -> str:
    return dumps(sorted(str(p) for p in permissions))


class SqlRoleRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def roles(self, tenant_id: str) -> list[CustomRole]:
        query = select(roles).where(roles.c.tenant_id == tenant_id).order_by(roles.c.name)
        with self._db.read() as conn:
            return [_role_from_row(row) for row in conn.execute(query).mappings()]

    @retry_reads
    def role(self, tenant_id: str, name: str) -> CustomRole | None:
        query = select(roles).where(roles.c.tenant_id == tenant_id, roles.c.name == name)
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return _role_from_row(row) if row is not None else None

    @retry_conflicts
    def create_role(self, role: CustomRole) -> bool:
        with self._db.write_one() as conn:
            inserted = conn.execute(
                upsert_insert(conn, roles)
                .values(
                    id=role.id,
                    tenant_id=role.tenant_id,
                    name=role.name,
                    description=role.description,
                    permissions=_permission_texts(role.permissions),
                    created_at=role.created_at,
                    updated_at=role.updated_at,
                )
                .on_conflict_do_nothing()
                .returning(roles.c.id)
            )
            return inserted.first() is not None

    @retry_conflicts
    def update_role(self, role: CustomRole) -> bool:
        with self._db.write_one() as conn:
            changed = conn.execute(
                update(roles)
                .where(roles.c.tenant_id == role.tenant_id, roles.c.name == role.name)
                .values(
                    description=role.description,
                    permissions=_permission_texts(role.permissions),
                    updated_at=role.updated_at,
                )
                .returning(roles.c.id)
            )
            return changed.first() is not None

    @retry_conflicts
    def delete_role(self, tenant_id: str, name: str) -> bool:
        with self._db.write_one() as conn:
            removed = conn.execute(
                delete(roles)
                .where(roles.c.tenant_id == tenant_id, roles.c.name == name)
                .returning(roles.c.id)
            )
            return removed.first() is not None

    @retry_reads
    def permissions_of(self, tenant_id: str, names: Collection[str]) -> Mapping[str, frozenset[Permission]]:
        query = select(roles.c.name, roles.c.permissions).where(
            roles.c.tenant_id == tenant_id, roles.c.name.in_(list(names))
        )
        with self._db.read() as conn:
            return {row["name"]: _permissions(row["permissions"]) for row in conn.execute(query).mappings()}


def _team_from_row(row: RowMapping) -> Team:
    return Team(row["id"], row["tenant_id"], row["name"], row["created_at"])


class SqlTeamRepository:
    """Members carry no tenant column: every query reaches them through the tenant's teams."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def _owned(self, tenant_id: str, team_id: str) -> Select[tuple[str]]:
        return select(teams.c.id).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)

    @retry_conflicts
    def create_team(self, team: Team) -> bool:
        with self._db.write_one() as conn:
            inserted = conn.execute(
                upsert_insert(conn, teams)
                .values(id=team.id, tenant_id=team.tenant_id, name=team.name, created_at=team.created_at)
                .on_conflict_do_nothing()
                .returning(teams.c.id)
            )
            return inserted.first() is not None

    @retry_reads
    def teams(self, tenant_id: str, team_ids: Collection[str] | None = None) -> list[Team]:
        query = select(teams).where(teams.c.tenant_id == tenant_id).order_by(teams.c.name)
        if team_ids is not None:
            query = query.where(teams.c.id.in_(list(team_ids)))
        with self._db.read() as conn:
            return [_team_from_row(row) for row in conn.execute(query).mappings()]

    @retry_reads
    def team(self, tenant_id: str, team_id: str) -> Team | None:
        query = select(teams).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return _team_from_row(row) if row is not None else None

    @retry_conflicts
    def delete_team(self, tenant_id: str, team_id: str) -> bool:
        with self._db.write() as conn:
            if conn.execute(self._owned(tenant_id, team_id)).first() is None:
                return False
            conn.execute(delete(team_members).where(team_members.c.team_id == team_id))
            conn.execute(delete(teams).where(teams.c.id == team_id))
            return True

    @retry_conflicts
    def add_member(self, tenant_id: str, team_id: str, user_id: str, at: float) -> bool:
        with self._db.write() as conn:
            if conn.execute(self._owned(tenant_id, team_id)).first() is None:
                return False
            conn.execute(
                upsert_insert(conn, team_members)
                .values(team_id=team_id, user_id=user_id, added_at=at)
                .on_conflict_do_nothing()
            )
            return True

    @retry_conflicts
    def remove_member(self, tenant_id: str, team_id: str, user_id: str) -> bool:
        with self._db.write_one() as conn:
            removed = conn.execute(
                delete(team_members)
                .where(
                    team_members.c.team_id.in_(self._owned(tenant_id, team_id).scalar_subquery()),
                    team_members.c.user_id == user_id,
                )
                .returning(team_members.c.user_id)
            )
            return removed.first() is not None

    @retry_reads
    def members(self, tenant_id: str, team_id: str) -> list[str]:
        query = (
            select(team_members.c.user_id)
            .join(teams, teams.c.id == team_members.c.team_id)
            .where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
            .order_by(team_members.c.user_id)
        )
        with self._db.read() as conn:
            return [row[0] for row in conn.execute(query)]

    @retry_reads
    def teams_of(self, tenant_id: str, user_id: str) -> frozenset[str]:
        query = (
            select(team_members.c.team_id)
            .join(teams, teams.c.id == team_members.c.team_id)
            .where(teams.c.tenant_id == tenant_id, team_members.c.user_id == user_id)
        )
        with self._db.read() as conn:
            return frozenset(row[0] for row in conn.execute(query))
