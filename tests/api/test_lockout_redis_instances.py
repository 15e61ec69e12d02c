"""Lockouts with Redis configured: failed logins on any instance count toward one lockout, an unlock on one
frees every instance, and a Redis outage neither lifts a lockout nor fails a login with a 500 (two containers
over one SQLite file and one real redis-server; HTTP for the outage)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from membank.accounts.login import Credentials
from membank.accounts.service import NewAccount
from membank.auth.events import RequestOrigin
from membank.bootstrap import Container, build_container
from membank.config import Settings
from membank.errors import AccountLocked, InvalidCredentials
from membank.models import Principal
from tests.api.accounts_support import FAST, PASSWORD, AccountsApi, open_accounts
from tests.support.redis import RedisServer

ORIGIN = RequestOrigin(ip="192.0.2.1", user_agent="pytest")
EMAIL = "ann@acme.example"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], redis_url: str) -> Settings:
    return make_settings(
        **{**FAST, "login_lockout_seconds": 60.0, "login_lockout_max_seconds": 60.0}, redis_url=redis_url
    )


@pytest.fixture
def instances(settings: Settings) -> Iterator[tuple[Container, Container]]:
    first = build_container(settings, with_index=False)
    second = build_container(settings, with_index=False)
    tenant = first.store.keys.ensure_tenant("acme")
    first.account_admin.create(
        Principal.system(tenant.id, "test"), NewAccount(EMAIL, ["user"], password=PASSWORD), ORIGIN
    )
    yield first, second
    asyncio.run(first.aclose())
    asyncio.run(second.aclose())


def _login(container: Container, password: str, email: str = EMAIL) -> None:
    asyncio.run(container.logins.login(Credentials("acme", email, password), ORIGIN))


def _fails(container: Container, password: str, email: str = EMAIL) -> type[Exception]:
    with pytest.raises((InvalidCredentials, AccountLocked)) as refused:
        _login(container, password, email)
    return refused.type


def test_failures_on_two_instances_lock_both_known_and_unknown_emails(
    instances: tuple[Container, Container],
) -> None:
    here, there = instances
    for email in (EMAIL, "nobody@acme.example"):
        assert [_fails(c, "wrong-Password-1", email) for c in (here, there, here)] == [InvalidCredentials] * 3
        assert _fails(there, PASSWORD, email) is AccountLocked
        assert _fails(here, PASSWORD, email) is AccountLocked


def test_an_unlock_on_one_instance_frees_the_other(instances: tuple[Container, Container]) -> None:
    here, there = instances
    for _ in range(3):
        _fails(here, "wrong-Password-1")
    assert _fails(there, PASSWORD) is AccountLocked
    account = there.store.accounts.by_email(here.store.keys.ensure_tenant("acme").id, EMAIL)
    assert account is not None
    assert here.account_admin.unlock(Principal.system(account.tenant_id, "test"), account.id, ORIGIN)
    _login(there, PASSWORD)


def test_a_lockout_holds_through_a_redis_outage_and_restart(
    instances: tuple[Container, Container], redis_server: RedisServer
) -> None:
    here, there = instances
    for _ in range(3):
        _fails(here, "wrong-Password-1")
    redis_server.stop()
    assert _fails(there, PASSWORD) is AccountLocked
    redis_server.restart()  # empty: the lockout is held by the database
    assert _fails(here, PASSWORD) is AccountLocked


@pytest.fixture
def accounts_on_redis(settings: Settings) -> Iterator[AccountsApi]:
    yield from open_accounts(settings.model_copy(update={"redis_breaker_seconds": 0.05}))


def test_over_http_failures_during_an_outage_lock_and_stay_locked_after_it(
    accounts_on_redis: AccountsApi, redis_server: RedisServer
) -> None:
    accounts_on_redis.create(EMAIL)
    redis_server.stop()
    assert [accounts_on_redis.login(EMAIL, "wrong-Password-1").status_code for _ in range(3)] == [401] * 3
    refused = accounts_on_redis.login(EMAIL)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "ACCOUNT_LOCKED"
    redis_server.restart()
    assert accounts_on_redis.login(EMAIL).status_code == 429
