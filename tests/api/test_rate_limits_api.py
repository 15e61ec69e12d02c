"""Request limits over HTTP: per key and per tenant, 429 RATE_LIMIT_EXCEEDED with Retry-After and the
X-RateLimit-* headers (on successes too), health and metrics exempt; one limit for two app instances on one
real Redis; Redis stopped and restarted under both fail modes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from membank.api import create_app
from membank.auth.keys import issue_key
from membank.bootstrap import build_rate_limiter, build_store
from membank.config import Settings
from membank.models import Principal
from tests.api.conftest import Api, open_api
from tests.conftest import MakePostgresDatabase
from tests.support.redis import RedisServer, start_redis

LIST = "/api/v1/users/u1/memories"


def _refused(response: Any, *, scope: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["details"]["scope"] == scope
    assert error["details"]["limit"] == limit
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Limit"] == str(limit)


def test_a_key_over_its_limit_gets_429_and_every_answer_says_how_much_is_left(
    make_settings: Callable[..., Settings],
) -> None:
    with open_api(make_settings(rate_limit_per_minute=3)) as api:
        answers = [api.call("GET", LIST) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
        assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
        assert all(0 < int(a.headers["X-RateLimit-Reset"]) <= 60 for a in answers)

        refused = api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": "I live in Oslo."})
        _refused(refused, scope="key", limit=3)
        assert 19 <= int(refused.headers["Retry-After"]) <= 20  # one request back every 60 / 3 s
        assert "x-request-id" in refused.headers

        # Another key of the same tenant has its own allowance, and sees that the refused write wrote nothing.
        other = api.call("GET", LIST, api.reader_key)
        assert other.status_code == 200
        assert other.json()["data"]["total"] == 0
        assert api.call("GET", LIST, api.bob_key).status_code == 200


def test_health_metrics_and_docs_are_not_limited(make_settings: Callable[..., Settings]) -> None:
    with open_api(make_settings(rate_limit_per_minute=1)) as api:
        for path in ("/health/live", "/health", "/metrics", "/openapi.json") * 3:
            response = api.call("GET", path)
            assert response.status_code == 200, (path, response.text)
            assert "x-ratelimit-limit" not in response.headers
        assert api.call("GET", LIST).status_code == 200


def test_a_tenant_limit_counts_every_key_of_the_tenant(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(rate_limit_per_minute=0, rate_limit_tenant_per_minute=4)
    with open_api(settings) as api:
        statuses = [api.call("GET", LIST, key).status_code for key in [api.alice_key, api.reader_key] * 2]
        assert statuses == [200] * 4

        _refused(api.call("GET", LIST, api.alice_key), scope="tenant", limit=4)
        _refused(api.call("GET", LIST, api.reader_key), scope="tenant", limit=4)
        assert api.call("GET", LIST, api.bob_key).status_code == 200  # another tenant


def test_a_tenant_override_replaces_the_tenant_limits(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        rate_limit_per_minute=0,
        rate_limit_tenant_per_minute=100,
        rate_limit_tenant_overrides={"small": {"per_minute": 1}},
    )
    limiter = build_rate_limiter(settings, None)

    async def statuses(tenant: str) -> list[bool]:
        principal = Principal(tenant_id=tenant, subject="api_key:k1")
        return [(await limiter.check(principal)).refusal is None for _ in range(3)]

    import asyncio

    assert asyncio.run(statuses("small")) == [True, False, False]
    assert asyncio.run(statuses("large")) == [True, True, True]


@contextlib.contextmanager
def _two_instances(
    make_settings: Callable[..., Settings], database_url: str, **overrides: Any
) -> Iterator[tuple[Api, Api]]:
    """Two app instances (own data dirs, own clients) on one PostgreSQL, with one key for both."""
    first = make_settings(store="postgres", database_url=database_url, **overrides)
    second = first.model_copy(update={"data_dir": first.data_dir.with_name("data-b")})
    store = build_store(first)
    key = issue_key(store.keys, tenant_name="acme", name="alice").plaintext
    other = issue_key(store.keys, tenant_name="globex", name="bob").plaintext
    store.close()
    with TestClient(create_app(first)) as a, TestClient(create_app(second)) as b:
        yield Api(a, key, other, key, first), Api(b, key, other, key, second)


def test_two_instances_on_one_redis_enforce_one_limit_together(
    make_settings: Callable[..., Settings], make_postgres_database: MakePostgresDatabase, redis_url: str
) -> None:
    with _two_instances(
        make_settings, make_postgres_database(), redis_url=redis_url, rate_limit_per_minute=4
    ) as (
        a,
        b,
    ):
        assert [api.call("GET", LIST).status_code for api in (a, b, a, b)] == [200] * 4

        _refused(a.call("GET", LIST), scope="key", limit=4)
        _refused(b.call("GET", LIST), scope="key", limit=4)


def test_two_instances_on_one_redis_share_an_address_unauthenticated_limit(
    make_settings: Callable[..., Settings], make_postgres_database: MakePostgresDatabase, redis_url: str
) -> None:
    with _two_instances(
        make_settings, make_postgres_database(), redis_url=redis_url, rate_limit_unauthenticated_per_minute=3
    ) as (a, b):
        assert [api.call("GET", LIST, key="mbk_wrong").status_code for api in (a, b, a)] == [401] * 3
        for api in (b, a):
            limited = api.call("GET", LIST, key="mbk_wrong")
            assert limited.status_code == 429
            assert limited.json()["error"]["details"]["scope"] == "ip"


def test_without_redis_each_instance_counts_on_its_own(
    make_settings: Callable[..., Settings], make_postgres_database: MakePostgresDatabase
) -> None:
    with _two_instances(make_settings, make_postgres_database(), rate_limit_per_minute=2) as (a, b):
        assert [api.call("GET", LIST).status_code for api in (a, a, b, b)] == [200] * 4
        assert a.call("GET", LIST).status_code == 429
        assert b.call("GET", LIST).status_code == 429


@pytest.fixture
def redis_settings(make_settings: Callable[..., Settings], redis_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "rate_limit_per_minute": 2,
            "redis_breaker_seconds": 0.05,
            "lock_ttl_seconds": 1.0,  # a Redis outage holds slot writes back one lease
            "log_level": "INFO",
        }
        return make_settings(**{**values, **overrides})

    return make


def test_redis_down_fail_open_serves_unlimited_says_so_and_enforces_again_on_return(
    redis_settings: Callable[..., Settings], redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_api(redis_settings(rate_limit_fail_mode="open")) as api:
        assert [api.call("GET", LIST).status_code for _ in range(3)] == [200, 200, 429]
        redis_server.stop()

        answers = [api.call("GET", LIST) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert all("x-ratelimit-limit" not in a.headers for a in answers)
        created = api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": "I live in Oslo."})
        assert created.status_code == 201, created.text  # a slot write: its lock is on the database now
        health = api.call("GET", "/health")
        assert health.status_code == 200
        report = health.json()["data"]
        assert report["status"] == "degraded"
        assert report["components"]["redis"]["status"] == "degraded"
        assert (
            report["components"]["redis"]["fallback"]
            == "cache bypassed; rate limits not enforced; locks on the database"
        )
        assert capsys.readouterr().err.count("rate_limits_not_enforced") == 1  # once per outage

        redis_server.restart()
        assert [api.call("GET", LIST).status_code for _ in range(3)] == [200, 200, 429]
        assert api.call("GET", "/health").json()["data"]["components"]["redis"]["status"] == "ok"


def test_redis_down_fail_closed_answers_503_until_it_returns(
    redis_settings: Callable[..., Settings], redis_server: RedisServer
) -> None:
    with open_api(redis_settings(rate_limit_fail_mode="closed")) as api:
        assert api.call("GET", LIST).status_code == 200
        redis_server.stop()

        refused = api.call("GET", LIST)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "RATE_LIMITER_UNAVAILABLE"
        assert "redis://" not in refused.text
        health = api.call("GET", "/health")
        assert health.status_code == 503
        assert health.json()["error"]["details"]["components"]["redis"]["fallback"].startswith(
            "cache bypassed; rate limits refused (fail closed)"
        )

        redis_server.restart()
        assert api.call("GET", LIST).status_code == 200


def test_idempotent_creates_replay_with_redis_up_and_down(
    redis_settings: Callable[..., Settings], redis_server: RedisServer
) -> None:
    with open_api(redis_settings(rate_limit_per_minute=0)) as api:
        for key, content in (("first", "I play the cello."), ("second", "I play the violin.")):
            body = {"user_id": "u1", "content": content}
            created = api.call("POST", "/api/v1/memories", json=body, headers={"Idempotency-Key": key})
            assert created.status_code == 201, created.text
            again = api.call("POST", "/api/v1/memories", json=body, headers={"Idempotency-Key": key})
            assert again.status_code == 201
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json()["data"]["id"] == created.json()["data"]["id"]
            redis_server.stop()  # the second key runs with Redis down; the first key's replay still works
        redis_server.restart()
        replay = api.call(
            "POST",
            "/api/v1/memories",
            json={"user_id": "u1", "content": "I play the cello."},
            headers={"Idempotency-Key": "first"},
        )
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert api.call("GET", LIST).json()["data"]["total"] == 2


def test_a_wrong_redis_password_is_reported_without_showing_it(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Redis-pw-never-shown-41c9"
    with start_redis(password="the-right-one") as server:
        url = f"redis://:{secret}@{server.host}:{server.port}/0"
        with open_api(make_settings(redis_url=url, log_level="INFO")) as api:
            served = api.call("GET", LIST)
            assert served.status_code == 200  # fail open
            health = api.call("GET", "/health")
            redis = health.json()["data"]["components"]["redis"]
            assert redis["status"] == "degraded"
            assert "AuthenticationError" in redis["error"]
            shown = served.text + health.text + capsys.readouterr().err
            assert "rate_limits_not_enforced" in shown
            assert secret not in shown
