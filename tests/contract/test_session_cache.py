"""The login-session check cached in Redis over the database (real redis-server, SQLite): a hit spares the
database, every change ends the entries it touches, a fill racing a change is refused, no secret reaches
Redis, and with Redis down every read and change goes to the database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from membank.models.account import UserAccount
from membank.storage.cached_login_sessions import CachedLoginSessions, SessionCachedAccounts
from membank.storage.ports import RecordStore
from membank.storage.ports.login_sessions import LoginSession, RefreshTokenRecord
from membank.storage.redis import RedisConnection, RedisSessionCache
from membank.storage.sql.store import SqlRecordStore
from tests.contract.conftest import open_record_store_at
from tests.support.accounts import insert_account, insert_tenant, set_status
from tests.support.redis import RedisServer


@dataclass
class World:
    store: RecordStore
    cache: RedisSessionCache
    sessions: CachedLoginSessions
    accounts: SessionCachedAccounts
    account: UserAccount


def _world(store: SqlRecordStore, connection: RedisConnection, ttl: float = 30.0) -> World:
    cache = RedisSessionCache(connection, ttl_seconds=ttl)
    sessions = CachedLoginSessions(store.login_sessions, cache)
    account = insert_account(store.db, insert_tenant(store.db, "acme"), user_ids=["u1"])
    return World(store, cache, sessions, SessionCachedAccounts(store.accounts, sessions), account)


@pytest.fixture
def parts(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[SqlRecordStore, RedisConnection]]:
    store = open_record_store_at("sqlite", str(tmp_path / "records.sqlite3"))
    assert isinstance(store, SqlRecordStore)
    store.migrate()
    connection = RedisConnection(redis_server.url(), timeout_seconds=2.0, retry_seconds=0.0)
    yield store, connection
    connection.close()
    store.close()


@pytest.fixture
def world(parts: tuple[SqlRecordStore, RedisConnection]) -> World:
    return _world(*parts)


def _start(world: World) -> LoginSession:
    now = time.time()
    session = LoginSession(
        id=uuid.uuid4().hex,
        tenant_id=world.account.tenant_id,
        account_id=world.account.id,
        device="laptop",
        ip="192.0.2.1",
        user_agent="pytest",
        created_at=now,
        last_seen_at=now,
        expires_at=now + 3600,
    )
    token = RefreshTokenRecord(uuid.uuid4().hex, session.id, uuid.uuid4().hex, now, now + 3600)
    world.sessions.start(session, token, limit=10)
    return session


def _status(world: World, session_id: str) -> str:
    found = world.sessions.with_account(session_id)
    assert found is not None
    return found[1].status


def test_a_cached_check_spares_the_database_until_a_change_through_it(world: World) -> None:
    session = _start(world)
    assert _status(world, session.id) == "active"  # a miss: read from the database, then cached
    set_status(world.store.db, world.account.id, "disabled")  # behind the cache's back
    assert _status(world, session.id) == "active"  # so served from Redis
    changed = world.accounts.update(
        world.account.tenant_id, world.account.id, {"status": "disabled"}, at=time.time()
    )
    assert changed is not None
    assert _status(world, session.id) == "disabled"


def test_a_change_of_a_field_the_check_ignores_keeps_the_entry(world: World) -> None:
    session = _start(world)
    _status(world, session.id)
    set_status(world.store.db, world.account.id, "disabled")
    world.accounts.update(world.account.tenant_id, world.account.id, {"display_name": "Ann"}, at=time.time())
    assert _status(world, session.id) == "active"
    world.accounts.update(world.account.tenant_id, world.account.id, {"roles": ["auditor"]}, at=time.time())
    found = world.sessions.with_account(session.id)
    assert found is not None and (found[1].roles, found[1].status) == (["auditor"], "disabled")


def test_revoke_touch_and_step_up_end_the_entry(world: World) -> None:
    first, second = _start(world), _start(world)
    _status(world, first.id)
    _status(world, second.id)
    world.sessions.confirm_mfa(first.id, 123.0)
    found = world.sessions.with_account(first.id)
    assert found is not None and found[0].mfa_at == 123.0
    later = time.time() + 10
    world.sessions.touch(first.id, later)
    found = world.sessions.with_account(first.id)
    assert found is not None and found[0].last_seen_at == later
    assert world.sessions.revoke(world.account.tenant_id, first.id, reason="logout", at=time.time())
    found = world.sessions.with_account(first.id)
    assert found is not None and found[0].revoked_at is not None
    assert world.sessions.revoke_all(
        world.account.tenant_id, world.account.id, reason="admin", at=time.time()
    ) == [second.id]
    found = world.sessions.with_account(second.id)
    assert found is not None and found[0].revoked_reason == "admin"


def test_a_fill_racing_a_revocation_is_refused(world: World) -> None:
    session = _start(world)
    missed = world.cache.get(session.id)  # a reader misses and goes to the database ...
    assert missed.found is None
    stale = world.store.login_sessions.with_account(session.id)
    assert stale is not None
    world.sessions.revoke(
        world.account.tenant_id, session.id, reason="logout", at=time.time()
    )  # ... meanwhile
    assert not world.cache.fill(*stale, missed.generation)
    found = world.sessions.with_account(session.id)
    assert found is not None and found[0].revoked_at is not None


def test_no_password_hash_or_mfa_secret_reaches_redis(world: World, redis_server: RedisServer) -> None:
    world.store.accounts.set_password(
        world.account.tenant_id,
        world.account.id,
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
        at=1.0,
        must_change=False,
        keep_history=1,
    )
    world.store.accounts.update(
        world.account.tenant_id, world.account.id, {"mfa_secret": "sealed-secret"}, at=1.0
    )
    session = _start(world)
    _status(world, session.id)
    with redis_server.client() as client:
        values = [client.get(key) for key in client.keys("*")]
    entries = [value for value in values if value and b"session" in value]
    assert len(entries) == 1
    assert b"argon2id" not in entries[0] and b"sealed-secret" not in entries[0]


def test_an_entry_ends_by_itself_after_its_ttl(parts: tuple[SqlRecordStore, RedisConnection]) -> None:
    world = _world(*parts, ttl=0.2)
    session = _start(world)
    _status(world, session.id)
    set_status(world.store.db, world.account.id, "disabled")
    time.sleep(0.3)
    assert _status(world, session.id) == "disabled"


def test_with_redis_down_reads_and_changes_go_to_the_database(
    world: World, redis_server: RedisServer
) -> None:
    session = _start(world)
    _status(world, session.id)
    redis_server.stop()
    assert _status(world, session.id) == "active"
    assert world.sessions.revoke(world.account.tenant_id, session.id, reason="logout", at=time.time())
    found = world.sessions.with_account(session.id)
    assert found is not None and found[0].revoked_at is not None
    other = _start(world)  # logins go on
    redis_server.restart()  # empty
    found = world.sessions.with_account(session.id)
    assert found is not None and found[0].revoked_at is not None
    assert _status(world, other.id) == "active"
