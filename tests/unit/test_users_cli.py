"""`membank users create` (password from stdin, policy enforced) and `membank users unlock`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from membank.cli.main import cli
from membank.config import Settings
from membank.storage.ports import LockoutPolicy
from membank.storage.redis import RedisConnection, RedisLoginFailures
from membank.storage.sql.store import SqlRecordStore

PASSWORD = "Tr0ubadour-Sunrise"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"MEMBANK_DATA_DIR": str(tmp_path / "data"), "MEMBANK_ARGON2_MEMORY_KIB": "64"}


def _run(env: dict[str, str], *args: str, password: str = PASSWORD, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["users", *args], env=env, input=f"{password}\n")
    assert result.exit_code == code, result.output
    return result.stdout.strip() if code == 0 else result.output.strip().splitlines()[-1]


def _store(env: dict[str, str]) -> SqlRecordStore:
    return SqlRecordStore.sqlite(Settings(data_dir=Path(env["MEMBANK_DATA_DIR"])).sqlite_path)


def test_create_prints_the_id_of_an_account_that_can_log_in(env: dict[str, str]) -> None:
    args = ("create", "--tenant", "acme", "--email", "Root@Acme.Example", "--role", "tenant-admin")
    account_id = _run(env, *args)
    store = _store(env)
    try:
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None
        account = store.accounts.by_email(tenant.id, "root@acme.example")
        assert account is not None and account.id == account_id and account.roles == ["tenant-admin"]
        assert account.password_hash is not None and PASSWORD not in account.password_hash
    finally:
        store.close()
    assert "exists" in _run(env, *args, code=1)


def test_create_refuses_a_weak_password_or_unknown_role(env: dict[str, str]) -> None:
    weak = _run(
        env,
        "create",
        "--tenant",
        "acme",
        "--email",
        "a@acme.example",
        "--role",
        "user",
        password="short",
        code=1,
    )
    assert "password" in weak and "short" not in weak.replace("password", "")
    unknown = _run(env, "create", "--tenant", "acme", "--email", "a@acme.example", "--role", "wizard", code=1)
    assert "unknown roles" in unknown


def test_unlock_ends_a_lockout(env: dict[str, str]) -> None:
    _run(env, "create", "--tenant", "acme", "--email", "a@acme.example", "--role", "user")
    store = _store(env)
    try:
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None
        policy = LockoutPolicy(max_failures=1, base_seconds=600, cap_seconds=600)
        store.login_failures.record(tenant.id, "a@acme.example", policy, at=1e10)
        assert _run(env, "unlock", "--tenant", "acme", "--email", "A@acme.example") == "unlocked"
        assert store.login_failures.get(tenant.id, "a@acme.example") is None
    finally:
        store.close()
    assert "no account" in _run(env, "unlock", "--tenant", "acme", "--email", "x@acme.example", code=1)


def test_unlock_ends_a_lockout_counted_on_redis(env: dict[str, str], redis_url: str) -> None:
    env = {**env, "MEMBANK_REDIS_URL": redis_url}
    _run(env, "create", "--tenant", "acme", "--email", "a@acme.example", "--role", "user")
    store = _store(env)
    connection = RedisConnection(redis_url, timeout_seconds=2.0, retry_seconds=0.0)
    try:
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None
        policy = LockoutPolicy(max_failures=5, base_seconds=600, cap_seconds=600)
        shared = RedisLoginFailures(connection)
        shared.record(tenant.id, "a@acme.example", policy, at=1e10)  # one failure, on Redis only
        assert _run(env, "unlock", "--tenant", "acme", "--email", "a@acme.example") == "unlocked"
        assert shared.get(tenant.id, "a@acme.example") is None
    finally:
        connection.close()
        store.close()
