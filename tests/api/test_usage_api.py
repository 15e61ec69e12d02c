"""Usage and cost per tenant (GET /api/v1/admin/usage, /usage/monthly, /capacity) on a real app: counts move
by what each tenant did, LLM tokens are priced by the table, a tenant admin sees only its own tenant, and bad
periods are refused naming the field."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from membank.bootstrap import build_store
from membank.config import Settings
from membank.storage.ports import UsageRecord
from tests.api.conftest import Api, open_api
from tests.api.rbac_support import role_key

PRICES = '{"gpt-test": {"prompt": 2.0, "completion": 8.0}}'


@dataclass
class Served:
    api: Api
    platform: str
    acme_admin: str
    acme_id: str
    globex_id: str


@pytest.fixture
def served(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("MEMBANK_LLM_PRICES", PRICES)
    # No periodic flush during the test: a report made while a flush is being written can miss that batch
    # (it has left the process's pending counts and is not committed yet); the test flushes by hand.
    settings = make_settings(usage_flush_seconds=3600.0)
    store = build_store(settings)
    platform = role_key(store, "acme", ["platform-admin"])
    acme_admin = role_key(store, "acme", ["tenant-admin"])
    acme, globex = store.keys.ensure_tenant("acme"), store.keys.ensure_tenant("globex")
    # Two extraction runs of acme on a priced model, one of globex on a model without a price.
    for tenant, model, prompt, completion in (
        (acme.id, "gpt-test", 1000, 200),
        (acme.id, "gpt-test", 500, 100),
        (globex.id, "other-model", 300, 30),
    ):
        store.usage.record(UsageRecord(tenant, None, "extraction", model, prompt, completion, time.time()))
    store.close()
    with open_api(settings) as api:
        yield Served(api, platform, acme_admin, acme.id, globex.id)


def _get(api: Api, path: str, key: str) -> Any:
    response = api.call("GET", path, key)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _tenant(report: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    (found,) = [t for t in report["tenants"] if t["tenant_id"] == tenant_id]
    return found


def test_each_tenant_is_charged_what_it_did_and_its_llm_tokens_are_priced(served: Served) -> None:
    api = served.api
    for content in ("alice keeps bees", "alice sails on weekends"):
        api.add(content)
    for query in ("bees", "sailing", "weekend plans"):
        assert api.search(query).status_code == 200
    api.add("bob paints murals", key=api.bob_key)
    assert api.search("murals", key=api.bob_key).status_code == 200

    report = _get(api, "/api/v1/admin/usage", served.platform)
    acme, globex = _tenant(report, served.acme_id), _tenant(report, served.globex_id)
    assert acme["tenant"] == "acme" and globex["tenant"] == "globex"
    assert acme["activity"]["memory_writes"] == 2 and globex["activity"]["memory_writes"] == 1
    assert acme["activity"]["searches"] == 3 and globex["activity"]["searches"] == 1
    # Each write and each search sent its text to the embedder.
    assert acme["activity"]["embedding_texts"] == 5 and globex["activity"]["embedding_texts"] == 2
    assert acme["activity"]["requests"] >= 5 and globex["activity"]["requests"] == 2
    assert acme["storage"] == {
        "memories": 2,
        "live": 2,
        "content_bytes": acme["storage"]["content_bytes"],
        "vectors": 2,
    }
    assert acme["storage"]["content_bytes"] >= len("alice keeps bees") + len("alice sails on weekends")
    (priced,) = acme["llm"]
    assert (priced["runs"], priced["prompt_tokens"], priced["completion_tokens"]) == (2, 1500, 300)
    assert priced["cost_usd"] == pytest.approx((1500 * 2.0 + 300 * 8.0) / 1e6)
    (unpriced,) = globex["llm"]
    assert unpriced["cost_usd"] == 0 and unpriced["priced"] is False
    assert report["totals"]["llm_cost_usd"] == pytest.approx(0.0054)
    assert report["totals"]["activity"]["memory_writes"] == 3
    assert report["priced_models"] == ["gpt-test"]

    # Flushed to the store, another app on the same database reports them too.
    api.client.app.state.container.usage_meter.flush()  # type: ignore[attr-defined]
    with open_api(api.settings) as again:
        reread = _get(again, "/api/v1/admin/usage", served.platform)
    assert _tenant(reread, served.acme_id)["activity"]["searches"] == 3


def test_a_tenant_admin_sees_only_its_own_tenant_and_a_member_nothing(served: Served) -> None:
    api = served.api
    api.add("bob paints murals", key=api.bob_key)
    own = _get(api, f"/api/v1/admin/usage?tenant={served.globex_id}", served.acme_admin)
    assert [t["tenant_id"] for t in own["tenants"]] == [served.acme_id]
    monthly = _get(api, "/api/v1/admin/usage/monthly", served.acme_admin)
    assert monthly["forecast"] == {}
    for path in ("/api/v1/admin/usage", "/api/v1/admin/capacity"):
        refused = api.call("GET", path, api.alice_key)
        assert refused.status_code == 403, refused.text
    assert api.call("GET", "/api/v1/admin/capacity", served.acme_admin).status_code == 403
    assert api.client.get("/api/v1/admin/usage").status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-13-01", "from"), ("from=yesterday", "from"), ("to=2026-12-40", "to")],
)
def test_a_bad_period_is_refused_naming_the_field(served: Served, query: str, field: str) -> None:
    response = served.api.call("GET", f"/api/v1/admin/usage?{query}", served.platform)
    assert response.status_code in (400, 422), response.text
    assert field in response.text


def test_a_period_that_ends_before_it_starts_is_empty(served: Served) -> None:
    served.api.add("alice keeps bees")
    report = _get(served.api, "/api/v1/admin/usage?from=2026-12-05&to=2026-12-01", served.platform)
    acme = _tenant(report, served.acme_id)
    assert acme["activity"]["memory_writes"] == 0 and acme["llm"] == []
    assert acme["storage"]["memories"] == 1


def test_the_monthly_report_of_a_month_without_activity_is_empty_but_keeps_storage(served: Served) -> None:
    served.api.add("alice keeps bees")
    report = _get(served.api, "/api/v1/admin/usage/monthly?month=2020-01", served.platform)
    assert (report["from"], report["to"]) == ("2020-01-01", "2020-01-31")
    acme = _tenant(report, served.acme_id)
    assert acme["activity"]["searches"] == 0 and acme["llm"] == []
    assert acme["storage"]["memories"] == 1  # what it keeps now
    assert report["forecast"]["history_days"] >= 1  # the snapshot taken at start
