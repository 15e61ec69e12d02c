"""Two instances over one system of record: a revocation on one holds on the other from the next request,
and a key made on one verifies on the other (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from membank.auth.events import RequestOrigin
from membank.bootstrap import Container, build_container, build_store
from membank.cli.main import cli
from membank.config import Settings
from membank.errors import Unauthorized
from membank.models import Principal
from tests.conftest import MakePostgresDatabase
from tests.support.accounts import insert_account, insert_tenant, set_status

ORIGIN = RequestOrigin(ip="192.0.2.1", user_agent="pytest")


@pytest.fixture(params=["sqlite", "postgres"])
def shared_settings(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    if request.param == "postgres":
        make: MakePostgresDatabase = request.getfixturevalue("make_postgres_database")
        return make_settings(store="postgres", database_url=make())
    return make_settings()


@pytest.fixture
def instances(shared_settings: Settings) -> Iterator[tuple[Container, Container]]:
    first = build_container(shared_settings, with_index=False)
    second = build_container(shared_settings, with_index=False)
    yield first, second
    asyncio.run(first.aclose())
    asyncio.run(second.aclose())


def _authenticate(container: Container, token: str) -> Principal:
    return asyncio.run(container.auth.authenticate(token))


def test_revocation_and_status_hold_on_every_instance(
    instances: tuple[Container, Container], shared_settings: Settings
) -> None:
    here, there = instances
    store = build_store(shared_settings)
    tenant = insert_tenant(store.db, "acme")
    account = insert_account(store.db, tenant, user_ids=["u1"])
    first = asyncio.run(here.sessions.start(account, device="a", origin=ORIGIN, mfa_at=None))
    second = asyncio.run(here.sessions.start(account, device="b", origin=ORIGIN, mfa_at=None))
    principal = _authenticate(there, first.access_token)
    assert (principal.subject, principal.tenant_id) == (f"user:{account.id}", tenant)
    asyncio.run(here.sessions.logout(_authenticate(here, first.access_token)))
    with pytest.raises(Unauthorized, match="revoked"):
        _authenticate(there, first.access_token)
    renewed = asyncio.run(there.sessions.refresh(second.refresh_token, ORIGIN))
    with pytest.raises(Unauthorized, match="already used"):
        asyncio.run(here.sessions.refresh(second.refresh_token, ORIGIN))
    with pytest.raises(Unauthorized, match="revoked"):
        _authenticate(there, renewed.access_token)
    third = asyncio.run(there.sessions.start(account, device="c", origin=ORIGIN, mfa_at=None))
    _authenticate(here, third.access_token)
    set_status(store.db, account.id, "disabled")
    store.close()
    with pytest.raises(Unauthorized, match="disabled"):
        _authenticate(here, third.access_token)


def test_a_key_rotated_on_one_instance_verifies_on_the_other_at_once(
    instances: tuple[Container, Container], shared_settings: Settings
) -> None:
    here, there = instances
    store = build_store(shared_settings)
    account = insert_account(store.db, insert_tenant(store.db, "acme"))
    store.close()
    before = asyncio.run(here.sessions.start(account, device="a", origin=ORIGIN, mfa_at=None))
    assert here.signing_keys.signer()[0] == there.signing_keys.signer()[0]  # one key, made on first need
    new_kid, _ = there.signing_keys.rotate()
    after = asyncio.run(there.sessions.start(account, device="b", origin=ORIGIN, mfa_at=None))
    _authenticate(here, after.access_token)  # `here` caches the old key set, but reads on an unknown kid
    _authenticate(there, before.access_token)
    assert new_kid in {k["kid"] for k in here.signing_keys.jwks()["keys"]}


def test_the_cli_rotates_the_signing_key_that_a_running_instance_then_uses(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", signing_key_cache_seconds=0)
    container = build_container(settings, with_index=False)
    try:
        old_kid = container.signing_keys.signer()[0]
        env = {"MEMBANK_DATA_DIR": str(settings.data_dir)}
        result = CliRunner().invoke(cli, ["auth", "rotate-signing-key"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        new_kid = container.signing_keys.signer()[0]
        assert new_kid != old_kid and f"signing key {new_kid} signs" in result.output
        assert old_kid in result.output
        assert {k["kid"] for k in container.signing_keys.jwks()["keys"]} == {old_kid, new_kid}
        events = container.security_events.list(None, kind="signing_key_rotate")
        assert [e.target for e in events] == [new_kid]
    finally:
        asyncio.run(container.aclose())
