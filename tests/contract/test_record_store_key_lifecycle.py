"""RecordStore contract, the key lifecycle: rotation keeps the previous hash with its grace, usage counts
add up per key and day, service accounts are unique per tenant and disabled once, and a nonce is
remembered once until it expires (on the database and on Redis)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from membank.models.account import ServiceAccount
from membank.storage.ports import NonceStore, RecordStore
from membank.storage.redis import RedisConnection, RedisNonceStore
from tests.contract.racing import run_together
from tests.contract.records import api_key


def test_new_columns_round_trip(record_store: RecordStore) -> None:
    tenant = record_store.keys.ensure_tenant("acme")
    key = replace(api_key(tenant.id), allowed_ips=["10.0.0.0/8"], require_signature=True, roles=["service"])
    record_store.keys.create_key(key)

    stored = record_store.keys.key_by_id(tenant.id, key.id)
    assert stored == key
    assert record_store.keys.key_by_id(tenant.id, key.prefix) == key
    other = record_store.keys.ensure_tenant("globex")
    assert record_store.keys.key_by_id(other.id, key.id) is None


def test_rotation_keeps_the_previous_hash_until_the_grace_ends(record_store: RecordStore) -> None:
    tenant = record_store.keys.ensure_tenant("acme")
    key = api_key(tenant.id)
    record_store.keys.create_key(key)

    assert record_store.keys.rotate(key.id, secret_hash="new-hash", previous_valid_until=123.0)

    rotated = record_store.keys.key_by_id(tenant.id, key.id)
    assert rotated is not None
    assert (rotated.secret_hash, rotated.previous_secret_hash) == ("new-hash", key.secret_hash)
    assert rotated.previous_valid_until == 123.0
    assert record_store.keys.revoke(key.id, time.time())
    assert not record_store.keys.rotate(key.id, secret_hash="later", previous_valid_until=1.0)
    assert not record_store.keys.rotate("unknown", secret_hash="x", previous_valid_until=1.0)


def test_usage_adds_up_per_key_and_day(record_store: RecordStore) -> None:
    keys = record_store.keys
    keys.add_usage({("k1", "2026-12-01"): 3, ("k1", "2026-12-02"): 1, ("k2", "2026-12-02"): 5})
    keys.add_usage({("k1", "2026-12-02"): 2})
    keys.add_usage({})

    assert keys.usage("k1", since_day="2026-11-01") == [("2026-12-01", 3), ("2026-12-02", 3)]
    assert keys.usage("k1", since_day="2026-12-02") == [("2026-12-02", 3)]
    assert keys.usage_totals(["k1", "k2", "k3"]) == {"k1": 6, "k2": 5}
    assert keys.usage_totals([]) == {}


def test_concurrent_usage_flushes_lose_nothing(record_store: RecordStore) -> None:
    run_together([lambda: record_store.keys.add_usage({("k1", "2026-12-01"): 1})] * 8)

    assert record_store.keys.usage("k1", since_day="2026-01-01") == [("2026-12-01", 8)]


def test_service_accounts_are_unique_per_tenant_and_disabled_once(record_store: RecordStore) -> None:
    accounts = record_store.service_accounts
    tenant = record_store.keys.ensure_tenant("acme")
    other = record_store.keys.ensure_tenant("globex")
    bot = ServiceAccount("sa1", tenant.id, "bot", "ingest", 10.0)

    assert accounts.create(bot)
    assert not accounts.create(replace(bot, id="sa2"))
    assert accounts.create(ServiceAccount("sa3", other.id, "bot", "", 11.0))
    assert accounts.get(tenant.id, "sa1") == bot
    assert accounts.get(other.id, "sa1") is None
    assert accounts.list(tenant.id) == [bot]
    assert accounts.disable(tenant.id, "sa1", 20.0)
    assert not accounts.disable(tenant.id, "sa1", 30.0)
    assert not accounts.disable(other.id, "sa1", 30.0)
    disabled = accounts.get(tenant.id, "sa1")
    assert disabled is not None and disabled.disabled_at == 20.0


@pytest.fixture(params=["database", "redis"])
def nonces(request: pytest.FixtureRequest, record_store: RecordStore) -> NonceStore:
    if request.param == "database":
        return record_store.nonces
    url: str = request.getfixturevalue("redis_url")
    return RedisNonceStore(RedisConnection(url, timeout_seconds=2.0, retry_seconds=0.0))


def test_a_nonce_is_accepted_once_until_it_expires(nonces: NonceStore) -> None:
    soon = time.time() + 1.0
    assert nonces.remember("k1", "nonce-aaaaaaaaaaaa", expires_at=soon)
    assert not nonces.remember("k1", "nonce-aaaaaaaaaaaa", expires_at=soon)
    assert nonces.remember("k2", "nonce-aaaaaaaaaaaa", expires_at=soon)  # per key
    time.sleep(1.2)
    assert nonces.remember("k1", "nonce-aaaaaaaaaaaa", expires_at=time.time() + 60)


def test_racing_requests_with_one_nonce_get_one_acceptance(nonces: NonceStore) -> None:
    def remember() -> bool:
        return nonces.remember("k1", "raced-nonce-0000", expires_at=time.time() + 60)

    outcomes = run_together([remember] * 6)

    assert sorted(outcomes) == [False] * 5 + [True]
