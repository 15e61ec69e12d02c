"""`membank keys create` with roles, bindings, expiry, allow list and signing; `membank keys rotate`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from membank.auth.keys import accepted_secret_hash, split_key
from membank.cli.main import cli
from membank.config import Settings
from membank.storage.sql.store import SqlRecordStore


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"MEMBANK_DATA_DIR": str(tmp_path / "data")}


def _run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["keys", *args], env=env)
    assert result.exit_code == code, result.output
    if code == 0:
        # stdout is the key alone (a script reads it); log lines go to stderr.
        assert len(result.stdout.strip().splitlines()) == 1, result.stdout
        return result.stdout.strip()
    return result.output.strip().splitlines()[-1]


def _store(env: dict[str, str]) -> SqlRecordStore:
    return SqlRecordStore.sqlite(Settings(data_dir=Path(env["MEMBANK_DATA_DIR"])).sqlite_path)


def test_create_with_every_option(env: dict[str, str]) -> None:
    plaintext = _run(
        env,
        "create", "--tenant", "acme", "--name", "bot", "--role", "user", "--role", "member",
        "--user-id", "u1", "--user-id", "u2", "--team-id", "t1", "--expires-at", "2100-01-01T00:00:00Z",
        "--allowed-ip", "10.0.0.0/8", "--require-signature", "--scopes", "memories:read",
    )  # fmt: skip
    store = _store(env)
    try:
        key = store.keys.key_by_prefix(split_key(plaintext)[0])
        assert key is not None
        assert (key.roles, key.user_ids, key.team_ids) == (["user", "member"], ["u1", "u2"], ["t1"])
        assert key.allowed_ips == ["10.0.0.0/8"] and key.require_signature and key.scopes == ["memories:read"]
        assert key.expires_at is not None and key.expires_at.year == 2100
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--role", "wizard"), "roles"),
        (("--expires-at", "2001-01-01T00:00:00Z"), "expires_at"),
        (("--expires-at", "tomorrow"), "--expires-at"),
        (("--allowed-ip", "300.1.1.1"), "--allowed-ips"),
        (("--scopes", "memories:fly"), "--scopes"),
        (("--user-id", "has space"), "--user-ids"),
    ],
)
def test_bad_options_are_one_error_and_create_nothing(
    env: dict[str, str], args: tuple[str, ...], named: str
) -> None:
    output = _run(env, "create", *args, code=1)
    assert named in output and output.startswith("Error: ")
    store = _store(env)
    try:
        store.migrate()
        assert store.keys.list_keys(None) == []
    finally:
        store.close()


def test_rotate_prints_a_new_secret_and_keeps_the_old_one_for_the_grace(env: dict[str, str]) -> None:
    old = _run(env, "create", "--tenant", "acme")
    prefix, old_secret = split_key(old)
    new = _run(env, "rotate", prefix, "--grace-seconds", "60")
    assert split_key(new)[0] == prefix and new != old
    store = _store(env)
    try:
        key = store.keys.key_by_prefix(prefix)
        assert key is not None
        assert accepted_secret_hash(key, split_key(new)[1], time.time()) == key.secret_hash
        assert accepted_secret_hash(key, old_secret, time.time()) == key.previous_secret_hash
        assert accepted_secret_hash(key, old_secret, time.time() + 61) is None
    finally:
        store.close()
    assert "no key" in _run(env, "rotate", "nope", code=1)
    assert "--grace-seconds" in _run(env, "rotate", prefix, "--grace-seconds", "700000", code=2)


def test_rotate_and_revoke_leave_security_events(env: dict[str, str]) -> None:
    prefix = split_key(_run(env, "create", "--tenant", "acme"))[0]
    _run(env, "rotate", prefix)
    assert _run(env, "revoke", prefix) == f"revoked {prefix}"
    assert "no active key" in _run(env, "revoke", prefix, code=1)
    store = _store(env)
    try:
        kinds = [(event.kind, event.actor) for event in store.security_events.list(None)]
    finally:
        store.close()
    assert kinds == [("key.create", "cli"), ("key.rotate", "cli"), ("key.revoke", "cli")]
