"""Two instances over one SQLite file and one real redis-server, with the session check cached in Redis: a
logout, a role change or a disabled account on one holds on the other from its next request, though the
other had the session cached; with Redis down both check the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from membank.accounts.service import NewAccount
from membank.auth.events import RequestOrigin
from membank.bootstrap import Container, build_container
from membank.config import Settings
from membank.errors import Unauthorized
from membank.models import Principal
from membank.models.account import UserAccount
from tests.api.accounts_support import FAST, OTHER_PASSWORD, PASSWORD
from tests.support.redis import RedisServer

ORIGIN = RequestOrigin(ip="192.0.2.1", user_agent="pytest")


@pytest.fixture
def instances(
    make_settings: Callable[..., Settings], redis_url: str
) -> Iterator[tuple[Container, Container, UserAccount]]:
    settings = make_settings(
        **FAST, redis_url=redis_url, session_cache_seconds=30.0, redis_breaker_seconds=0.05
    )
    first = build_container(settings, with_index=False)
    second = build_container(settings, with_index=False)
    tenant = first.store.keys.ensure_tenant("acme")
    account = first.account_admin.create(
        _admin(tenant.id),
        NewAccount("ann@acme.example", ["user"], user_ids=["u1"], password=PASSWORD),
        ORIGIN,
    )
    yield first, second, account
    asyncio.run(first.aclose())
    asyncio.run(second.aclose())


def _admin(tenant_id: str) -> Principal:
    return Principal.system(tenant_id, "test")


def _authenticate(container: Container, token: str) -> Principal:
    return asyncio.run(container.auth.authenticate(token))


def _login(container: Container, account: UserAccount) -> str:
    issued = asyncio.run(container.sessions.start(account, device="laptop", origin=ORIGIN, mfa_at=None))
    return issued.access_token


def test_a_logout_on_one_instance_holds_on_the_other_that_cached_it(
    instances: tuple[Container, Container, UserAccount],
) -> None:
    here, there, account = instances
    token = _login(here, account)
    for _ in range(2):  # the second check is answered from Redis
        assert _authenticate(there, token).subject == f"user:{account.id}"
    asyncio.run(here.sessions.logout(_authenticate(here, token)))
    with pytest.raises(Unauthorized, match="revoked"):
        _authenticate(there, token)


def test_a_role_change_and_a_disabled_account_hold_on_the_other_instance(
    instances: tuple[Container, Container, UserAccount],
) -> None:
    here, there, account = instances
    token = _login(here, account)
    assert _authenticate(there, token).roles == {"user"}
    changes: dict[str, object] = {"roles": ["auditor"]}
    asyncio.run(here.account_admin.update(_admin(account.tenant_id), account.id, changes, ORIGIN))
    assert _authenticate(there, token).roles == {"auditor"}
    asyncio.run(here.account_admin.disable(_admin(account.tenant_id), account.id, ORIGIN))
    with pytest.raises(Unauthorized):
        _authenticate(there, token)


def test_with_redis_down_checks_read_the_database_and_revocations_hold(
    instances: tuple[Container, Container, UserAccount], redis_server: RedisServer
) -> None:
    here, there, account = instances
    token, other = _login(here, account), _login(here, account)
    _authenticate(there, token)
    redis_server.stop()
    assert _authenticate(there, token).subject == f"user:{account.id}"
    asyncio.run(here.sessions.logout(_authenticate(here, token)))
    with pytest.raises(Unauthorized, match="revoked"):
        _authenticate(there, token)
    redis_server.restart()
    with pytest.raises(Unauthorized, match="revoked"):
        _authenticate(there, token)
    assert _authenticate(there, other).subject == f"user:{account.id}"


def test_a_password_reset_and_change_hold_on_the_other_instance_at_once(
    instances: tuple[Container, Container, UserAccount],
) -> None:
    here, there, account = instances
    admin = _admin(account.tenant_id)
    asyncio.run(here.account_admin.reset_password(admin, account.id, "Temporary-Harbour-42", ORIGIN))
    fresh = here.store.accounts.get(account.tenant_id, account.id)
    assert fresh is not None and fresh.must_change_password
    token = _login(here, fresh)
    assert _authenticate(there, token).password_change_required  # cached on `there` now
    principal = _authenticate(here, token)
    asyncio.run(here.logins.change_password(principal, "Temporary-Harbour-42", OTHER_PASSWORD, ORIGIN))
    assert not _authenticate(there, token).password_change_required
