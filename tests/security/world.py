"""The attack suite's world: one app over SQLite, tenant A's objects, and the keys the attacks present."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import insert

from membank.api import create_app
from membank.auth.events import RequestOrigin
from membank.auth.keys import hash_secret, issue_key, split_key
from membank.auth.mfa import Totp
from membank.auth.service import AuthService
from membank.auth.sessions import IssuedTokens
from membank.bootstrap import build_store
from membank.config import Settings
from membank.models import ApiKey
from membank.models.account import ServiceAccount, UserAccount
from membank.storage.ports import CustomRole, IpRule, KeyRepository, Team
from membank.storage.sql import tables
from tests.security import snapshot, tokens
from tests.security.accounts import Account, create_account
from tests.security.attacks import Credentials
from tests.security.operations import BOUND_USER, SECRET_MARK, VICTIM_USER, MfaVictim, Objects

TENANT_A = "acme"
TENANT_B = "globex"
TENANT_C = "initech"  # admits only a documentation network: no client of the suite

# Settings of the suite's app. Limits are off: the suite sends far more refused requests per minute than a
# client would, and a 429 would hide the answer under test.
SUITE_SETTINGS: dict[str, Any] = {
    "workers": 1,
    "job_poll_seconds": 0.05,
    "job_lease_seconds": 5.0,
    "job_backoff_seconds": 0.05,
    "outbox_poll_seconds": 0.1,
    "log_json": False,
    "log_level": "ERROR",
    "rate_limit_per_minute": 0,
    # Every attack is an unauthenticated request from one address: the per-address limit would answer 429.
    "rate_limit_unauthenticated_per_minute": 0,
}


@dataclass
class World:
    client: TestClient
    settings: Settings
    objects: Objects
    credentials: Credentials
    signer: tokens.Signer
    account_a: Account
    account_b: Account


def _key(
    keys: KeyRepository,
    tenant: str,
    name: str,
    *,
    roles: list[str] | None,
    scopes: list[str],
    user_ids: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A key with the role model's fields (roles, bound end users, expiry), as the keys slice creates them."""
    plaintext = f"mbk_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}{uuid.uuid4().hex}"
    prefix, secret = split_key(plaintext)
    key = ApiKey(
        id=str(uuid.uuid4()),
        tenant_id=keys.ensure_tenant(tenant).id,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=scopes,
        created_at=datetime.now(UTC),
        roles=roles,
        user_ids=user_ids,
        expires_at=expires_at,
    )
    keys.create_key(key)
    return key, plaintext


def _admit_no_client(settings: Settings, tenant_id: str) -> None:
    """An allow list of TEST-NET-3 alone: it refuses every address the suite's clients have, and also the
    test client's, which is no IP address at all (a deny rule could not match that one; an allow list
    refuses it)."""
    rule = {"id": str(uuid.uuid4()), "tenant_id": tenant_id, "cidr": "203.0.113.0/24", "action": "allow"}
    with snapshot.store_reader(settings.sqlite_path) as engine, engine.begin() as conn:
        conn.execute(insert(tables.ip_rules).values(**rule, note="attack suite", created_at=time.time()))


def _victims(settings: Settings) -> tuple[Callable[[], str], Callable[[], str]]:
    """Fresh targets for the key routes, per call: a key from before roles (scopes only) and a service
    account of tenant A, which no attack presents."""

    def key() -> str:
        store = build_store(settings)
        try:
            return issue_key(store.keys, tenant_name=TENANT_A, name="legacy").key.id
        finally:
            store.close()

    def service_account() -> str:
        store = build_store(settings)
        try:
            tenant = store.keys.ensure_tenant(TENANT_A)
            account = ServiceAccount(
                id=str(uuid.uuid4()),
                tenant_id=tenant.id,
                name=f"victim-{uuid.uuid4().hex[:8]}",
                description="",
                created_at=time.time(),
            )
            store.service_accounts.create(account)
            return account.id
        finally:
            store.close()

    return key, service_account


def _victim_ip_rule(settings: Settings) -> Callable[[], str]:
    """A fresh IP rule of tenant A per call, for DELETE /api/v1/ip-rules/{rule_id}: a deny rule for a
    documentation address (TEST-NET-1), so it refuses none of the suite's requests."""

    def rule() -> str:
        store = build_store(settings)
        try:
            tenant = store.keys.ensure_tenant(TENANT_A)
            made = IpRule(f"ipr_{uuid.uuid4().hex}", tenant.id, "192.0.2.7/32", "deny", "victim", time.time())
            store.ip_rules.add(made)
            return made.id
        finally:
            store.close()

    return rule


def _credentials(settings: Settings) -> tuple[Credentials, str, str]:
    """The attacks' keys; also the two tenants' ids."""
    store = build_store(settings)
    try:
        keys = store.keys
        made: dict[str, tuple[ApiKey, str]] = {
            # Platform admins of their own tenant, so that every operation (tenants and roles too) has a
            # caller it succeeds for, and tenant B's key is as strong as a key gets without the header.
            "tenant_a": _key(keys, TENANT_A, "tenant A app", roles=["service", "platform-admin"], scopes=[]),
            "tenant_b": _key(keys, TENANT_B, "tenant B app", roles=["service", "platform-admin"], scopes=[]),
            "revoked": _key(keys, TENANT_A, "revoked", roles=["service"], scopes=[]),
            "expired": _key(
                keys,
                TENANT_A,
                "expired",
                roles=["service"],
                scopes=[],
                expires_at=datetime.now(UTC) - timedelta(minutes=5),
            ),
            "auditor": _key(keys, TENANT_A, "auditor", roles=["auditor"], scopes=[]),
            "read_only": _key(keys, TENANT_A, "read only", roles=["service"], scopes=["memories:read"]),
            "own_alice": _key(
                keys, TENANT_A, "alice's agent", roles=["user"], scopes=[], user_ids=[BOUND_USER]
            ),
            "ip_denied": _key(keys, TENANT_C, "tenant C app", roles=["service"], scopes=[]),
        }
        assert keys.revoke(made["revoked"][0].id, time.time())
        auth = AuthService(keys, enabled=True)
        granted = {
            role: frozenset(f"{p.resource}:{p.action}" for p in auth.key_principal(key).permissions)
            for role, (key, _) in made.items()
        }
        plaintexts = {role: plaintext for role, (_, plaintext) in made.items()}
        _admit_no_client(settings, made["ip_denied"][0].tenant_id)
        tenant_ids = made["tenant_a"][0].tenant_id, made["tenant_b"][0].tenant_id
        return Credentials(plaintexts, granted), *tenant_ids
    finally:
        store.close()


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _wait_job(client: TestClient, job_id: str, key: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = _ok(client.get(f"/api/v1/jobs/{job_id}", headers={"X-API-Key": key}))["status"]
        if status in ("completed", "failed", "cancelled"):
            assert status == "completed", status
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _account_sessions(client: TestClient, account: Account) -> Callable[[], IssuedTokens]:
    """Starts a real login session of `account` through the app's own session service, per call."""
    container = client.app.state.container  # type: ignore[attr-defined]
    now = time.time()
    stored = UserAccount(
        id=account.user_id,
        tenant_id=account.tenant_id,
        email=account.email,
        display_name=account.email,
        status="active",
        roles=["tenant-admin"],
        created_at=now,
        updated_at=now,
    )
    assert client.portal is not None
    portal = client.portal

    def start() -> IssuedTokens:
        # A second factor just checked, as after an MFA login: step-up routes (key creation) accept it.
        begin = functools.partial(
            container.sessions.start,
            stored,
            device="attack suite",
            origin=RequestOrigin(),
            mfa_at=time.time(),
        )
        return portal.call(begin)  # type: ignore[no-any-return]

    return start


def create_objects(
    client: TestClient, key: str, *, settings: Settings, account: Account, team_id: str = ""
) -> Objects:
    """Tenant A's memory, job, batch and conversation session, all of end user bob, all finished."""
    headers = {"X-API-Key": key}
    memory = _ok(
        client.post(
            "/api/v1/memories",
            headers=headers,
            json={"user_id": VICTIM_USER, "content": f"{SECRET_MARK}: the launch date is May 5"},
        )
    )
    job = _ok(
        client.post(
            "/api/v1/memories/batch",
            headers=headers,
            json={"memories": [{"user_id": VICTIM_USER, "content": f"{SECRET_MARK} budget is 4M"}]},
        )
    )
    _wait_job(client, job["id"], key)
    conversation = {"messages": [{"role": "user", "content": f"I moved to Oslo ({SECRET_MARK})."}]}
    batch = _ok(
        client.post(
            "/api/v1/memories/batch",
            headers=headers,
            json={"user_id": VICTIM_USER, "conversations": [conversation]},
        )
    )
    for job_id in batch["job_ids"]:
        _wait_job(client, job_id, key)
    session = "attack-target"
    exchange = {"user_id": VICTIM_USER, "session_id": session, "user_input": f"I like tea ({SECRET_MARK})."}
    _ok(client.post("/api/v1/memories/process-conversation?wait=true", headers=headers, json=exchange))
    sessions = _account_sessions(client, account)
    victim_key, victim_service_account = _victims(settings)

    def victim_account() -> Account:
        email = f"victim-{uuid.uuid4().hex[:8]}@acme.example"
        return create_account(settings.sqlite_path, account.tenant_id, email, ["user"], failed_login=True)

    return Objects(
        team_id=team_id,
        memory_id=memory["id"],
        job_id=job["id"],
        batch_id=batch["batch_id"],
        session_id=session,
        key_id=victim_key,
        service_account_id=victim_service_account,
        account_id=lambda: victim_account().user_id,
        login_session_id=lambda: sessions().session_id,
        account_token=lambda: sessions().access_token,
        victim_token=lambda: _account_sessions(client, victim_account())().access_token,
        mfa_victim=lambda state: _mfa_victim(client, victim_account(), state),
        rule_id=_victim_ip_rule(settings),
    )


def _mfa_victim(client: TestClient, account: Account, state: str) -> MfaVictim:
    """A signed-in account with an authenticator `enrolled` (not active yet) or `active`, and its current
    code (unused: the account is new)."""
    container = client.app.state.container  # type: ignore[attr-defined]
    secret = pyotp.random_base32()
    sealed = Totp(container.secret_box, container.store.nonces).seal(account.user_id, secret)
    changes: dict[str, object] = {"mfa_secret": sealed}
    if state == "active":
        changes["mfa_enabled_at"] = time.time()
    container.store.accounts.update(account.tenant_id, account.user_id, changes, at=time.time())
    return MfaVictim(_account_sessions(client, account)().access_token, pyotp.TOTP(secret).now())


def _role_and_team(settings: Settings, tenant_id: str) -> str:
    """Tenant A's custom role and team that the role and team routes point at (bob joins it by PUT)."""
    store = build_store(settings)
    try:
        store.roles.create_role(
            CustomRole("attack-role", tenant_id, "attack-target-role", "", frozenset(), 0, 0)
        )
        store.teams.create_team(Team("attack-team", tenant_id, "attack-target-team", 0))
        return "attack-team"
    finally:
        store.close()


def bearer_tokens(signer: tokens.Signer, a: Account, b: Account, b_session_id: str) -> dict[str, str]:
    """The access tokens the JWT attacks present, by name (`jwt:valid` is the control). Tenant B's is of a
    session just past its second factor, so that step-up routes too meet tenant A's objects."""
    valid = tokens.claims(a.tenant_id, a.user_id, a.session_id)
    made = {f"jwt:{forge.__name__}": forge(signer, valid) for forge in tokens.FORGERIES}
    made["jwt:valid"] = signer.sign(valid)
    made["jwt:revoked_session"] = signer.sign(tokens.claims(a.tenant_id, a.user_id, a.revoked_session_id))
    made["jwt:another_tenant"] = signer.sign(tokens.claims(b.tenant_id, b.user_id, b_session_id))
    return made


@contextmanager
def open_world(data_dir: Path) -> Iterator[World]:
    settings = Settings(data_dir=data_dir, **SUITE_SETTINGS)
    credentials, tenant_a, tenant_b = _credentials(settings)
    account_a = create_account(settings.sqlite_path, tenant_a, "admin@acme.example", ["tenant-admin"])
    account_b = create_account(settings.sqlite_path, tenant_b, "admin@globex.example", ["tenant-admin"])
    with TestClient(create_app(settings)) as client:
        objects = create_objects(
            client,
            credentials.key("tenant_a"),
            settings=settings,
            account=account_a,
            team_id=_role_and_team(settings, tenant_a),
        )
        client.get("/.well-known/jwks.json")  # an issuer may make its first signing key on demand
        signer = tokens.store_signer(settings)
        b_session_id = _account_sessions(client, account_b)().session_id
        credentials.plaintexts.update(bearer_tokens(signer, account_a, account_b, b_session_id))
        yield World(client, settings, objects, credentials, signer, account_a, account_b)
