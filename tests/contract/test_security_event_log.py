"""The security event log on SQLite and PostgreSQL: appended in order, read by tenant and kind, never changed."""

from __future__ import annotations

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.security_events import SqlSecurityEventLog


def test_events_are_appended_in_order_and_filtered(sql_db: SqlDatabase) -> None:
    events = SecurityEvents(SqlSecurityEventLog(sql_db))
    origin = RequestOrigin(ip="203.0.113.7", user_agent="curl/8", request_id="r1")
    events.record("login_failed", outcome="denied", actor="a@example.com", tenant_id="t1", origin=origin)
    events.record("login_ok", outcome="ok", actor="a@example.com", tenant_id="t1", target="user:1")
    events.record("key_create", outcome="ok", actor="api_key:x", tenant_id="t2", details={"roles": ["user"]})
    everything = events.list(None)
    assert [e.kind for e in everything] == ["login_failed", "login_ok", "key_create"]
    assert everything[0].id is not None and everything[0].id < everything[1].id  # type: ignore[operator]
    first = everything[0]
    assert (first.ip, first.user_agent, first.request_id) == ("203.0.113.7", "curl/8", "r1")
    assert everything[2].details == {"roles": ["user"]}
    assert [e.kind for e in events.list("t1")] == ["login_failed", "login_ok"]
    assert [e.kind for e in events.list("t1", kind="login_ok")] == ["login_ok"]
    assert [e.kind for e in events.list(None, after_id=everything[1].id)] == ["key_create"]
    assert events.list(None, since=everything[2].at + 1) == []
    assert len(events.list(None, limit=2)) == 2


def test_the_log_has_no_way_to_change_or_remove_an_event() -> None:
    assert {name for name in vars(SqlSecurityEventLog) if not name.startswith("_")} == {"append", "list"}
