"""RateLimitStore contract, over the in-process store and Redis (real redis-server): GCRA with a burst,
all-or-nothing over several rates, refill with time, and exactly `burst` winners among racing callers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from membank.storage.inprocess import InProcessRateLimits
from membank.storage.ports.rate_limits import Rate, RateLimitStore
from membank.storage.redis import RedisConnection, RedisRateLimits
from tests.contract.racing import run_together

OpenRateStore = Callable[[], RateLimitStore]

HOUR = 3600.0


@pytest.fixture(params=["in-process", "redis"])
def open_rate_store(request: pytest.FixtureRequest) -> Iterator[OpenRateStore]:
    """Opens a store; opened again, another view of the same counts (for Redis: another client, as another
    API instance would have)."""
    connections: list[RedisConnection] = []
    if request.param == "in-process":
        shared = InProcessRateLimits()
        yield lambda: shared
        return
    url: str = request.getfixturevalue("redis_url")

    def open_() -> RateLimitStore:
        connection = RedisConnection(url, timeout_seconds=2.0, retry_seconds=0.0)
        connections.append(connection)
        return RedisRateLimits(connection)

    yield open_
    for connection in connections:
        connection.close()


@pytest.fixture
def rate_store(open_rate_store: OpenRateStore) -> RateLimitStore:
    return open_rate_store()


def test_a_burst_is_allowed_then_refused_until_an_interval_passes(rate_store: RateLimitStore) -> None:
    rate = Rate("k1:hour", limit=3, period_seconds=HOUR, burst=3)

    decisions = [rate_store.hit([rate]) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.states[0].remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[3]
    # One request's worth comes back after period / limit = 1200 s.
    assert 1199 < refused.retry_after_seconds <= 1200
    assert 3599 < refused.states[0].reset_seconds <= 3600


def test_a_refused_request_is_not_charged_to_any_rate(rate_store: RateLimitStore) -> None:
    key_rate = Rate("key:hour", limit=1, period_seconds=HOUR, burst=1)
    tenant_rate = Rate("tenant:hour", limit=5, period_seconds=HOUR, burst=5)

    assert rate_store.hit([key_rate, tenant_rate]).allowed
    for _ in range(3):
        refused = rate_store.hit([key_rate, tenant_rate])
        assert not refused.allowed
        assert refused.states[1].remaining == 4  # the tenant lost only the one request that ran

    other_key = Rate("other-key:hour", limit=10, period_seconds=HOUR, burst=10)
    assert rate_store.hit([other_key, tenant_rate]).states[1].remaining == 3


def test_allowance_comes_back_at_the_rate(rate_store: RateLimitStore) -> None:
    rate = Rate("fast", limit=10, period_seconds=1.0, burst=2)  # one back every 0.1 s, two saved at most
    assert rate_store.hit([rate]).allowed
    assert rate_store.hit([rate]).allowed
    refused = rate_store.hit([rate])
    assert not refused.allowed
    assert 0 < refused.retry_after_seconds <= 0.1

    time.sleep(refused.retry_after_seconds + 0.02)

    assert rate_store.hit([rate]).allowed
    assert not rate_store.hit([rate]).allowed


def test_rates_of_different_keys_are_independent(rate_store: RateLimitStore) -> None:
    first = Rate("a", limit=1, period_seconds=HOUR, burst=1)
    second = Rate("b", limit=1, period_seconds=HOUR, burst=1)
    assert rate_store.hit([first]).allowed
    assert not rate_store.hit([first]).allowed
    assert rate_store.hit([second]).allowed


def test_counts_are_shared_by_every_view_of_the_store(open_rate_store: OpenRateStore) -> None:
    instance_a, instance_b = open_rate_store(), open_rate_store()
    rate = Rate("shared", limit=4, period_seconds=HOUR, burst=4)

    allowed = [store.hit([rate]).allowed for store in (instance_a, instance_b, instance_a, instance_b)]

    assert allowed == [True] * 4
    assert not instance_a.hit([rate]).allowed
    assert not instance_b.hit([rate]).allowed


def test_of_callers_racing_for_the_last_requests_exactly_burst_win(open_rate_store: OpenRateStore) -> None:
    stores = [open_rate_store(), open_rate_store()]
    rate = Rate("race", limit=5, period_seconds=HOUR, burst=5)

    def hit(n: int) -> bool:
        return stores[n % 2].hit([rate]).allowed

    results = run_together([partial(hit, n) for n in range(16)])

    assert sum(results) == 5
