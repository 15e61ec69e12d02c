"""Signing keys, login sessions and refresh tokens on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import jwt
import pytest

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.secret_box import SecretBox
from membank.auth.sessions import SessionPolicy, SessionService
from membank.auth.signing import SigningKeys
from membank.auth.tokens import AccessTokens
from membank.errors import Unauthorized
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.login_sessions import SqlLoginSessions
from membank.storage.sql.security_events import SqlSecurityEventLog
from membank.storage.sql.signing_keys import SqlSigningKeys
from tests.support.accounts import insert_account, insert_tenant

BOX_KEY = b"k" * 32
ORIGIN = RequestOrigin(ip="203.0.113.9", user_agent="pytest")


def _keys(
    db: SqlDatabase,
    *,
    retire_after: float = 60.0,
    cache_seconds: float = 30.0,
    clock: list[float] | None = None,
) -> SigningKeys:
    """Signing keys over `db`; on the time in `clock[0]` when given (a test moves it), else the real time."""
    now: Callable[[], float] = (lambda: clock[0]) if clock is not None else time.time
    return SigningKeys(
        SqlSigningKeys(db),
        SecretBox(BOX_KEY),
        retire_after=retire_after,
        cache_seconds=cache_seconds,
        clock=now,
    )


def _service(db: SqlDatabase, *, limit: int = 10, idle: float = 3600.0) -> SessionService:
    tokens = AccessTokens(
        _keys(db), issuer="membank", audience="membank-api", ttl_seconds=60, leeway_seconds=0
    )
    policy = SessionPolicy(
        refresh_ttl_seconds=3600,
        idle_timeout_seconds=idle,
        absolute_timeout_seconds=7200,
        limit_per_account=limit,
    )
    return SessionService(SqlLoginSessions(db), tokens, SecurityEvents(SqlSecurityEventLog(db)), policy)


def test_instances_creating_the_first_key_at_once_end_with_one_signing_key(sql_url: str) -> None:
    databases = [SqlDatabase(sql_url) for _ in range(4)]
    instances = [_keys(db) for db in databases]
    start = threading.Barrier(len(instances))
    kids: list[str] = []

    def first_signer(keys: SigningKeys) -> None:
        start.wait()
        kids.append(keys.signer()[0])

    threads = [threading.Thread(target=first_signer, args=(keys,)) for keys in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        stored = SqlSigningKeys(databases[0]).usable(time.time())
        assert len(stored) == 1 and stored[0].retired_at is None
        assert set(kids) == {stored[0].kid}
        assert "private" not in stored[0].public_jwk and "d" not in stored[0].public_jwk
        assert stored[0].private_key.startswith("v1.")  # sealed, not the key
    finally:
        for db in databases:
            db.close()


def test_rotation_signs_with_the_new_key_and_verifies_with_both_until_retired(sql_db: SqlDatabase) -> None:
    clock = [1_000_000.0]
    keys = _keys(sql_db, retire_after=10.0, cache_seconds=0.0, clock=clock)
    old_kid, _ = keys.signer()
    new_kid, retiring = keys.rotate()
    assert retiring == [old_kid] and keys.signer()[0] == new_kid
    assert {k["kid"] for k in keys.jwks()["keys"]} == {old_kid, new_kid}
    assert keys.verifier(old_kid) is not None
    clock[0] += 11
    assert keys.verifier(old_kid) is None and keys.verifier(new_kid) is not None
    assert [k["kid"] for k in keys.jwks()["keys"]] == [new_kid]


def test_a_token_verified_before_is_still_refused_once_expired_or_its_key_retired(
    sql_db: SqlDatabase,
) -> None:
    clock = [time.time()]
    keys = _keys(sql_db, retire_after=10.0, cache_seconds=0.0, clock=clock)
    tokens = AccessTokens(keys, issuer="membank", audience="membank-api", ttl_seconds=1, leeway_seconds=0)
    short = tokens.issue(account_id="a", tenant_id="t", session_id="s1", mfa_at=None)
    assert tokens.verify(short).session_id == "s1"
    assert tokens.verify(short).session_id == "s1"  # remembered
    time.sleep(1.05)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(short)

    long_lived = AccessTokens(
        keys, issuer="membank", audience="membank-api", ttl_seconds=600, leeway_seconds=0
    )
    token = long_lived.issue(account_id="a", tenant_id="t", session_id="s2", mfa_at=None)
    assert long_lived.verify(token).session_id == "s2"
    keys.rotate()
    assert long_lived.verify(token).session_id == "s2"  # in its key's grace
    clock[0] += 11
    with pytest.raises(Unauthorized, match="retired"):
        long_lived.verify(token)


def test_a_key_made_by_another_instance_verifies_at_once(sql_db: SqlDatabase) -> None:
    here, elsewhere = _keys(sql_db), _keys(sql_db)
    here.signer()
    kid, private = elsewhere.rotate()[0], elsewhere.signer()[1]
    token = jwt.encode({"sub": "x"}, private, algorithm="EdDSA", headers={"kid": kid})
    verifier = here.verifier(kid)  # cached 30 s, but an unknown kid reads the store again
    assert verifier is not None
    assert jwt.decode(token, verifier, algorithms=["EdDSA"])["sub"] == "x"


def test_refresh_rotates_and_a_reused_token_revokes_the_family(sql_db: SqlDatabase) -> None:
    service = _service(sql_db)
    account = insert_account(sql_db, insert_tenant(sql_db, "acme"), user_ids=["u1"])
    issued = asyncio.run(service.start(account, device="laptop", origin=ORIGIN, mfa_at=None))
    renewed = asyncio.run(service.refresh(issued.refresh_token, ORIGIN))
    assert renewed.refresh_token != issued.refresh_token and renewed.session_id == issued.session_id
    principal = service.authenticate(renewed.access_token)
    assert (principal.kind, principal.subject, principal.session_id) == (
        "user",
        f"user:{account.id}",
        issued.session_id,
    )
    assert principal.user_ids == frozenset({"u1"}) and principal.reach("memories", "read") == "own"
    with pytest.raises(Unauthorized, match="already used"):
        asyncio.run(service.refresh(issued.refresh_token, ORIGIN))
    # The whole family is revoked: the newest refresh token and every access token of the session.
    with pytest.raises(Unauthorized, match="revoked"):
        asyncio.run(service.refresh(renewed.refresh_token, ORIGIN))
    with pytest.raises(Unauthorized, match="revoked"):
        service.authenticate(renewed.access_token)
    events = SqlSecurityEventLog(sql_db).list(account.tenant_id, kind="refresh_token_reuse")
    assert [(e.target, e.outcome, e.ip) for e in events] == [(issued.session_id, "denied", "203.0.113.9")]


def test_concurrent_presentations_of_one_refresh_token_let_only_one_through(sql_db: SqlDatabase) -> None:
    service = _service(sql_db)
    account = insert_account(sql_db, insert_tenant(sql_db, "acme"))
    issued = asyncio.run(service.start(account, device="d", origin=ORIGIN, mfa_at=None))
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def present() -> None:
        start.wait()
        try:
            asyncio.run(service.refresh(issued.refresh_token, ORIGIN))
            outcomes.append("ok")
        except Unauthorized:
            outcomes.append("refused")

    threads = [threading.Thread(target=present) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") <= 1 and outcomes.count("refused") >= 3


def test_the_session_limit_revokes_the_oldest(sql_db: SqlDatabase) -> None:
    service = _service(sql_db, limit=2)
    account = insert_account(sql_db, insert_tenant(sql_db, "acme"))
    first, second, third = (
        asyncio.run(service.start(account, device=f"d{i}", origin=ORIGIN, mfa_at=None)) for i in range(3)
    )
    with pytest.raises(Unauthorized, match="revoked"):
        service.authenticate(first.access_token)
    for live in (second, third):
        service.authenticate(live.access_token)
    principal = service.authenticate(third.access_token)
    listed = asyncio.run(service.list_sessions(principal))
    assert [(v.session.id, v.current) for v in listed] == [
        (third.session_id, True),
        (second.session_id, False),
    ]


def test_revoke_all_is_per_tenant_and_account(sql_db: SqlDatabase) -> None:
    service = _service(sql_db)
    acme, globex = insert_tenant(sql_db, "acme"), insert_tenant(sql_db, "globex")
    alice, bob = insert_account(sql_db, acme), insert_account(sql_db, globex)
    a = asyncio.run(service.start(alice, device="d", origin=ORIGIN, mfa_at=None))
    b = asyncio.run(service.start(bob, device="d", origin=ORIGIN, mfa_at=1.0))
    assert asyncio.run(service.revoke_all(globex, alice.id, "test")) == []  # another tenant's admin: nothing
    assert asyncio.run(service.revoke_all(acme, alice.id, "test")) == [a.session_id]
    with pytest.raises(Unauthorized):
        service.authenticate(a.access_token)
    assert service.authenticate(b.access_token).mfa_at == 1.0
