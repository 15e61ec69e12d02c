"""RecordStore contract, tenants and API keys: a tenant per name (idempotent even when raced), keys found
by their public prefix, listed per tenant, revoked once (by id or prefix), touched on use."""

from __future__ import annotations

from datetime import timedelta

from membank.models import now_utc
from membank.storage.ports import RecordStore
from tests.contract.racing import run_together
from tests.contract.records import api_key


def test_ensure_tenant_creates_once_and_then_returns_the_same(record_store: RecordStore) -> None:
    created = record_store.keys.ensure_tenant("acme")

    assert record_store.keys.ensure_tenant("acme") == created
    assert record_store.keys.tenant_by_name("acme") == created
    assert record_store.keys.tenant_by_name("nobody") is None
    assert created.name == "acme" and created.id


def test_tenants_are_listed_oldest_first(record_store: RecordStore) -> None:
    names = ["zeta", "alpha", "mid"]
    created = [record_store.keys.ensure_tenant(name) for name in names]

    assert record_store.keys.tenants() == created


def test_racing_ensure_tenant_makes_one_tenant(record_store: RecordStore) -> None:
    results = run_together([lambda: record_store.keys.ensure_tenant("raced")] * 6)

    assert len({tenant.id for tenant in results}) == 1
    assert [t.name for t in record_store.keys.tenants()] == ["raced"]


def test_a_key_is_found_by_its_prefix_exactly_as_stored(record_store: RecordStore) -> None:
    tenant = record_store.keys.ensure_tenant("acme")
    key = api_key(tenant.id, prefix="mb_abc12345")

    record_store.keys.create_key(key)

    assert record_store.keys.key_by_prefix("mb_abc12345") == key
    assert record_store.keys.key_by_prefix("mb_abc1234") is None
    assert record_store.keys.key_by_prefix("MB_ABC12345") is None


def test_keys_are_listed_per_tenant_or_all_oldest_first(record_store: RecordStore) -> None:
    acme, other = record_store.keys.ensure_tenant("acme"), record_store.keys.ensure_tenant("other")
    start = now_utc()
    first = api_key(acme.id, created_at=start)
    second = api_key(other.id, created_at=start + timedelta(seconds=1))
    third = api_key(acme.id, created_at=start + timedelta(seconds=2))
    for key in (third, first, second):
        record_store.keys.create_key(key)

    assert record_store.keys.list_keys(acme.id) == [first, third]
    assert record_store.keys.list_keys(other.id) == [second]
    assert record_store.keys.list_keys(None) == [first, second, third]
    assert record_store.keys.list_keys("no-such-tenant") == []


def test_revoke_by_id_or_prefix_once(record_store: RecordStore) -> None:
    tenant = record_store.keys.ensure_tenant("acme")
    by_id, by_prefix = api_key(tenant.id), api_key(tenant.id)
    record_store.keys.create_key(by_id)
    record_store.keys.create_key(by_prefix)
    at = now_utc()

    assert record_store.keys.revoke(by_id.id, at.timestamp())
    assert record_store.keys.revoke(by_prefix.prefix, at.timestamp())
    assert not record_store.keys.revoke(by_id.id, at.timestamp() + 5)
    assert not record_store.keys.revoke("unknown", at.timestamp())

    for key in (by_id, by_prefix):
        stored = record_store.keys.key_by_prefix(key.prefix)
        assert stored is not None and stored.revoked_at == at


def test_touch_records_the_last_use(record_store: RecordStore) -> None:
    tenant = record_store.keys.ensure_tenant("acme")
    key, bystander = api_key(tenant.id), api_key(tenant.id)
    record_store.keys.create_key(key)
    record_store.keys.create_key(bystander)
    first, second = now_utc(), now_utc() + timedelta(minutes=1)

    record_store.keys.touch(key.id, first.timestamp())
    record_store.keys.touch(key.id, second.timestamp())

    stored = record_store.keys.key_by_prefix(key.prefix)
    assert stored is not None and stored.last_used_at == second
    untouched = record_store.keys.key_by_prefix(bystander.prefix)
    assert untouched is not None and untouched.last_used_at is None
