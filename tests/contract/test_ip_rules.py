"""IP rules of the SQL system of record, on SQLite and PostgreSQL: scopes, removal and the revision every
instance polls to notice a change made elsewhere."""

from __future__ import annotations

from membank.storage.ports import IpRule
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.ip_rules import SqlIpRuleRepository


def _rule(rule_id: str, tenant_id: str | None, cidr: str, at: float) -> IpRule:
    return IpRule(rule_id, tenant_id, cidr, "deny", f"note {rule_id}", at)


def test_rules_are_kept_per_scope_oldest_first(sql_db: SqlDatabase) -> None:
    rules = SqlIpRuleRepository(sql_db)
    made = [
        _rule("g1", None, "203.0.113.0/24", 1.0),
        _rule("a2", "acme", "2001:db8::/32", 3.0),
        _rule("a1", "acme", "198.51.100.7/32", 2.0),
        _rule("b1", "globex", "192.0.2.0/24", 4.0),
    ]
    for rule in made:
        rules.add(rule)
    assert [r.id for r in rules.list("acme")] == ["a1", "a2"]
    assert rules.list(None) == [made[0]]
    assert rules.list("nobody") == []
    assert [r.id for r in rules.all()] == ["g1", "a1", "a2", "b1"]
    assert rules.list("acme")[1] == made[1]  # every field comes back as written


def test_a_rule_is_removed_only_from_its_own_scope(sql_db: SqlDatabase) -> None:
    rules = SqlIpRuleRepository(sql_db)
    rules.add(_rule("a1", "acme", "198.51.100.7/32", 1.0))
    rules.add(_rule("g1", None, "203.0.113.0/24", 2.0))
    assert not rules.remove("globex", "a1")  # another tenant's rule
    assert not rules.remove(None, "a1")  # not a global rule
    assert not rules.remove("acme", "g1")  # a global rule is not the tenant's
    assert rules.remove("acme", "a1") and not rules.remove("acme", "a1")
    assert rules.remove(None, "g1")
    assert rules.all() == []


def test_the_revision_changes_with_every_addition_and_removal(sql_db: SqlDatabase) -> None:
    rules = SqlIpRuleRepository(sql_db)
    empty = rules.revision()
    assert (empty.count, empty.newest) == (0, None)
    rules.add(_rule("a1", "acme", "198.51.100.7/32", 10.0))
    rules.add(_rule("a2", "acme", "198.51.100.8/32", 11.0))
    two = rules.revision()
    assert (two.count, two.newest) == (2, 11.0)
    rules.remove("acme", "a1")
    one = rules.revision()
    assert one != two
    # A removal followed by an addition keeps the count but not the newest time.
    rules.add(_rule("a3", "acme", "198.51.100.9/32", 12.0))
    assert rules.revision() != one and rules.revision().count == 2 and rules.revision() != two
