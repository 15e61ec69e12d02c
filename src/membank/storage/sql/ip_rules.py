"""IP rules on SQLite and PostgreSQL."""

from __future__ import annotations

import builtins
from typing import cast

from sqlalchemy import RowMapping, delete, func, insert, select

from membank.storage.ports.ip_rules import IpRule, IpRuleAction, IpRulesRevision
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import ip_rules


def _rule_from_row(row: RowMapping) -> IpRule:
    return IpRule(
        id=row["id"],
        tenant_id=row["tenant_id"],
        cidr=row["cidr"],
        action=cast(IpRuleAction, row["action"]),
        note=row["note"],
        created_at=row["created_at"],
    )


class SqlIpRuleRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def add(self, rule: IpRule) -> None:
        with self._db.write() as conn:
            conn.execute(
                insert(ip_rules).values(
                    id=rule.id,
                    tenant_id=rule.tenant_id,
                    cidr=rule.cidr,
                    action=rule.action,
                    note=rule.note,
                    created_at=rule.created_at,
                )
            )

    @retry_conflicts
    def remove(self, tenant_id: str | None, rule_id: str) -> bool:
        scope = ip_rules.c.tenant_id.is_(None) if tenant_id is None else ip_rules.c.tenant_id == tenant_id
        with self._db.write() as conn:
            return conn.execute(delete(ip_rules).where(ip_rules.c.id == rule_id, scope)).rowcount > 0

    @retry_reads
    def list(self, tenant_id: str | None) -> builtins.list[IpRule]:
        scope = ip_rules.c.tenant_id.is_(None) if tenant_id is None else ip_rules.c.tenant_id == tenant_id
        query = select(ip_rules).where(scope).order_by(ip_rules.c.created_at, ip_rules.c.id)
        with self._db.read() as conn:
            return [_rule_from_row(row) for row in conn.execute(query).mappings()]

    @retry_reads
    def all(self) -> builtins.list[IpRule]:
        query = select(ip_rules).order_by(ip_rules.c.created_at, ip_rules.c.id)
        with self._db.read() as conn:
            return [_rule_from_row(row) for row in conn.execute(query).mappings()]

    @retry_reads
    def revision(self) -> IpRulesRevision:
        query = select(func.count(), func.max(ip_rules.c.created_at)).select_from(ip_rules)
        with self._db.read() as conn:
            count, newest = conn.execute(query).one()
        return IpRulesRevision(int(count), None if newest is None else float(newest))
