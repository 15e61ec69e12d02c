"""GET /api/v1/admin/diagnostics and POST /api/v1/admin/diagnostics/repair: a healthy service is ok on every
check; each fault injected for real (behind the service's back, in the real store and index) is found with
its verdict and action; the repairs clear them and are on record in the audit log."""

from __future__ import annotations

import base64
import dataclasses
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from membank.api import create_app
from membank.bootstrap import Container, build_store
from membank.config import Settings
from membank.diagnostics import REPAIR_EVENT
from membank.observability.embedding_latency import EMBEDDING_LATENCY
from membank.observability.route_latency import ROUTE_LATENCY
from membank.storage.ports import IndexDocument, RecordStore
from tests.api.rbac_support import role_key
from tests.support.openai_stub import OpenAIStub, Status

DIAGNOSTICS = "/api/v1/admin/diagnostics"
REPAIR = "/api/v1/admin/diagnostics/repair"
# Thresholds the test machine always clears, so a healthy service is ok whatever disk and memory it has.
# Sealing key of the test's own (on PostgreSQL the data directory's key file is itself a risk the diagnosis
# names: several instances must share one key).
ROOMY = {
    "auth_secret_key": base64.b64encode(secrets.token_bytes(32)).decode(),
    "diagnostics_min_free_disk_bytes": 2**20,
    "diagnostics_min_free_memory_bytes": 2**20,
    "diagnostics_slow_route_p95_seconds": 60.0,
}


@dataclass
class Served:
    client: TestClient
    store: RecordStore
    keys: dict[str, str]
    tenant_id: str

    @property
    def container(self) -> Container:
        container: Container = self.client.app.state.container  # type: ignore[attr-defined]
        return container

    def call(self, method: str, path: str, key: str | None = "platform-admin", **kwargs: Any) -> Any:
        headers = {"X-API-Key": self.keys[key]} if key is not None else {}
        return self.client.request(method, path, headers=headers, **kwargs)

    def diagnose(self) -> dict[str, Any]:
        response = self.call("GET", DIAGNOSTICS)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def repair(self) -> dict[str, Any]:
        response = self.call("POST", REPAIR)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def add(self, content: str) -> str:
        response = self.call(
            "POST", "/api/v1/memories", "tenant-admin", json={"user_id": "u1", "content": content}
        )
        assert response.status_code == 201, response.text
        memory_id: str = response.json()["data"]["id"]
        return memory_id

    def queue_job(self) -> str:
        body = {"memories": [{"user_id": "u1", "content": "Imported fact"}]}
        response = self.call("POST", "/api/v1/memories/batch", "tenant-admin", json=body)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["data"]["id"]
        return job_id


def finding(diagnosis: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in diagnosis["findings"] if f["name"] == name)
    return found


@contextmanager
def serve(settings: Settings) -> Iterator[Served]:
    store = build_store(settings)
    tenant_id = store.keys.ensure_tenant("acme").id
    keys = {
        "platform-admin": role_key(store, "acme", ["platform-admin"]),
        "tenant-admin": role_key(store, "acme", ["tenant-admin"]),
        "auditor": role_key(store, "acme", ["auditor"]),
    }
    try:
        with TestClient(create_app(settings)) as client:
            yield Served(client, store, keys, tenant_id)
    finally:
        store.close()


@pytest.fixture
def served(make_settings: Callable[..., Settings]) -> Iterator[Served]:
    with serve(make_settings(**ROOMY)) as running:
        yield running


@pytest.fixture
def idle(make_settings: Callable[..., Settings]) -> Iterator[Served]:
    """No worker runs (so a job whose lease ran out stays stuck) and a stuck job has no grace period."""
    settings = make_settings(**ROOMY, run_workers=False, diagnostics_stuck_job_seconds=0.0)
    with serve(settings) as running:
        yield running


def test_a_healthy_service_is_ok_on_every_check(served: Served) -> None:
    for n in range(3):
        served.add(f"Alice likes tea number {n}")
    EMBEDDING_LATENCY.clear()  # the process's window: earlier tests' batches are not this one's
    diagnosis = served.diagnose()
    assert diagnosis["verdict"] == "ok", diagnosis
    assert [f["name"] for f in diagnosis["findings"]] == [
        "index.drift",
        "outbox.lag",
        "jobs.stuck",
        "jobs.dead",
        "config.auth",
        "config.secrets",
        "config.transport",
        "disk.headroom",
        "memory.headroom",
        "routes.slow",
        "llm.errors",
        "embedding.latency",
    ]
    assert all(f["verdict"] == "ok" and f["action"] is None for f in diagnosis["findings"])
    drift = finding(diagnosis, "index.drift")["detail"]
    assert drift["compared"] is True and drift["records"] == drift["indexed"] == 3
    assert finding(diagnosis, "disk.headroom")["detail"]["free_bytes"] > 0
    # A repair request with nothing to repair changes nothing but is on record.
    repaired = served.repair()
    assert repaired["repairs"] == [] and repaired["verdict"] == "ok"
    events = served.store.security_events.list(served.tenant_id, kind=REPAIR_EVENT)
    assert [(e.target, e.details) for e in events] == [("nothing_to_repair", {})]


def test_only_platform_admins_read_or_repair(served: Served) -> None:
    unauthenticated = served.call("GET", DIAGNOSTICS, key=None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "UNAUTHORIZED"
    for key in ("tenant-admin", "auditor"):
        for method, path in (("GET", DIAGNOSTICS), ("POST", REPAIR)):
            refused = served.call(method, path, key)
            assert refused.status_code == 403, (key, path)
            assert refused.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    assert served.store.security_events.list(None, kind=REPAIR_EVENT) == []


def test_index_drift_is_found_and_repaired_on_record(served: Served) -> None:
    kept = served.add("Alice lives in Lisbon")
    dropped = served.add("Alice works at Acme")
    index = served.container.index
    assert index is not None
    # Behind the service's back: one memory's document removed, one document of no memory added.
    index.delete([dropped])
    memory = served.store.memories.get(served.tenant_id, kept)
    assert memory is not None
    vector = served.store.memories.vectors([kept])[kept]
    index.upsert([IndexDocument.from_memory(dataclasses.replace(memory, id=str(uuid.uuid4())), vector)])

    drift = finding(served.diagnose(), "index.drift")
    assert drift["verdict"] == "fail"
    assert drift["detail"]["missing"] == 1 and drift["detail"]["orphaned"] == 1
    assert drift["detail"]["stale"] == 0
    assert "/api/v1/admin/diagnostics/repair" in drift["action"]

    repaired = served.repair()
    assert repaired["repairs"] == [
        {"name": "repair_index_drift", "detail": {"missing": 1, "stale": 0, "orphaned": 1, "records": 2}}
    ]
    assert finding(repaired, "index.drift")["verdict"] == "ok"
    assert finding(served.diagnose(), "index.drift")["verdict"] == "ok"
    assert set(index.tokens([dropped])) == {dropped}
    events = served.store.security_events.list(served.tenant_id, kind=REPAIR_EVENT)
    assert [(e.target, e.outcome, e.details["missing"], e.details["orphaned"]) for e in events] == [
        ("repair_index_drift", "ok", 1, 1)
    ]
    platform_prefix = next(k.prefix for k in served.store.keys.list_keys(None) if k.name == "platform-admin")
    assert events[0].actor == f"api_key:{platform_prefix}"
    listed = served.call("GET", f"/api/v1/security-events?kind={REPAIR_EVENT}").json()["data"]["events"]
    assert [(e["target"], e["details"]["missing"]) for e in listed] == [("repair_index_drift", 1)]


def test_a_job_whose_lease_expired_is_stuck_until_requeued(idle: Served) -> None:
    job_id = idle.queue_job()
    # A worker claims the job and dies: its lease runs out with nobody renewing it.
    claimed = idle.store.jobs.claim("worker-that-died", time.time(), lease_seconds=0.01)
    assert claimed is not None and claimed.id == job_id
    time.sleep(0.05)

    stuck = finding(idle.diagnose(), "jobs.stuck")
    assert stuck["verdict"] == "fail"
    assert stuck["detail"]["expired_leases"] == 1 and stuck["detail"]["oldest_expired_seconds"] > 0
    assert "membank worker" in stuck["action"] and "repair" in stuck["action"]

    repaired = idle.repair()
    assert repaired["repairs"] == [{"name": "requeue_stuck_jobs", "detail": {"requeued": 1}}]
    assert finding(repaired, "jobs.stuck")["verdict"] == "ok"
    job = idle.call("GET", f"/api/v1/jobs/{job_id}", "tenant-admin").json()["data"]
    assert job["status"] == "queued"
    events = idle.store.security_events.list(idle.tenant_id, kind=REPAIR_EVENT)
    assert [(e.target, e.details) for e in events] == [("requeue_stuck_jobs", {"requeued": 1})]


def test_a_dead_job_is_reported_with_where_to_look(idle: Served) -> None:
    job_id = idle.queue_job()
    claimed = idle.store.jobs.claim("w1", time.time(), lease_seconds=30)
    assert claimed is not None
    assert idle.store.jobs.fail(job_id, "w1", "the embedder is down", time.time(), retry_at=None)

    diagnosis = idle.diagnose()
    dead = finding(diagnosis, "jobs.dead")
    assert dead["verdict"] == "warn" and dead["detail"]["dead"] == 1
    assert "GET /api/v1/jobs/{id}" in dead["action"]
    assert finding(diagnosis, "jobs.stuck")["verdict"] == "ok"
    assert diagnosis["verdict"] == "warn"


def test_a_lagging_outbox_fails_the_outbox_check(make_settings: Callable[..., Settings]) -> None:
    # The outbox applier polls once an hour here and nothing wakes it: it is, in effect, stopped.
    settings = make_settings(**ROOMY, outbox_poll_seconds=3600, diagnostics_outbox_max_lag_seconds=0.2)
    with serve(settings) as served:
        memory_id = served.add("Alice plays the cello")
        assert finding(served.diagnose(), "outbox.lag")["verdict"] == "ok"
        served.store.outbox.enqueue([(served.tenant_id, memory_id)])
        time.sleep(0.3)
        diagnosis = served.diagnose()
        lag = finding(diagnosis, "outbox.lag")
        assert lag["verdict"] == "fail"
        assert lag["detail"]["pending"] == 1 and lag["detail"]["oldest_age_seconds"] > 0.2
        assert "membank serve" in lag["action"]
        # A pending index update is lag, not drift.
        assert finding(diagnosis, "index.drift")["verdict"] == "ok"


def test_auth_disabled_is_reported(make_settings: Callable[..., Settings]) -> None:
    with serve(make_settings(**ROOMY, auth_enabled=False)) as served:
        diagnosis = served.call("GET", DIAGNOSTICS, key=None).json()["data"]
    auth = finding(diagnosis, "config.auth")
    assert auth["verdict"] == "warn" and auth["detail"]["auth_enabled"] is False
    assert "MEMBANK_AUTH_ENABLED=true" in auth["action"]
    assert diagnosis["verdict"] == "warn"


def test_example_secrets_fail_without_showing_them(make_settings: Callable[..., Settings]) -> None:
    with serve(make_settings(**ROOMY, admin_api_key="changeme")) as served:
        response = served.call("GET", DIAGNOSTICS)
    secrets = finding(response.json()["data"], "config.secrets")
    assert secrets["verdict"] == "fail" and secrets["detail"]["settings"] == ["MEMBANK_ADMIN_API_KEY"]
    assert "changeme" not in response.text


def test_auto_repair_requeues_stuck_jobs_on_its_own(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        **ROOMY,
        run_workers=False,
        diagnostics_stuck_job_seconds=0.0,
        diagnostics_auto_repair=True,
        diagnostics_auto_repair_seconds=0.1,
    )
    with serve(settings) as served:
        job_id = served.queue_job()
        assert served.store.jobs.claim("worker-that-died", time.time(), lease_seconds=0.01) is not None
        deadline = time.time() + 5
        while served.store.jobs.status(served.tenant_id, job_id) != "queued":
            assert time.time() < deadline, "the stuck job was not re-queued"
            time.sleep(0.05)
        events = served.store.security_events.list(None, kind=REPAIR_EVENT)
        assert [(e.actor, e.target, e.details) for e in events] == [
            ("system", "requeue_stuck_jobs", {"requeued": 1})
        ]


def test_slow_routes_are_the_slowest_by_p95_of_the_last_hour(make_settings: Callable[..., Settings]) -> None:
    ROUTE_LATENCY.clear()  # the process's window: earlier tests' requests are not this one's
    settings = make_settings(
        **{**ROOMY, "diagnostics_slow_route_p95_seconds": 1e-6, "diagnostics_slow_routes_top": 50}
    )
    with serve(settings) as served:
        served.add("Alice likes tea")
        served.call("GET", "/api/v1/users/u1/memories", "tenant-admin")
        slow = finding(served.diagnose(), "routes.slow")
    assert slow["verdict"] == "warn" and slow["detail"]["slow"] >= 2
    routes = slow["detail"]["routes"]
    assert any(r.startswith("POST /api/v1/memories p95=") and r.endswith("n=1") for r in routes), routes
    assert any(r.startswith("GET /api/v1/users/{user_id}/memories ") for r in routes), routes
    assert not any("/admin/diagnostics" in r for r in routes)
    assert "traces" in slow["action"]


def test_llm_errors_and_fallbacks_are_reported(
    make_settings: Callable[..., Settings],
    openai_stub_server: tuple[str, OpenAIStub],
    openai_stub: OpenAIStub,
) -> None:
    settings = make_settings(
        **ROOMY,
        llm_base_url=openai_stub_server[0],
        llm_model="stub-model",
        llm_max_retries=0,
        llm_backoff_seconds=0.01,
        llm_breaker_failures=1000,
        diagnostics_llm_min_calls=1,
    )
    with serve(settings) as served:
        assert finding(served.diagnose(), "llm.errors")["detail"]["calls"] == 0
        openai_stub.script = [Status(500)] * 4
        body = {"user_id": "u1", "user_input": "I moved to Lisbon last week"}
        job = served.call(
            "POST", "/api/v1/memories/process-conversation?wait=true", "tenant-admin", json=body
        ).json()["data"]
        assert job["status"] == "completed" and job["result"]["extractor"].startswith("heuristic")
        llm = finding(served.diagnose(), "llm.errors")
    assert llm["verdict"] == "warn"
    assert llm["detail"]["errors"] == llm["detail"]["calls"] >= 1
    assert llm["detail"]["fallbacks"] == 1 and llm["detail"]["fallback_ratio"] == 1.0
    assert "MEMBANK_LLM_BASE_URL" in llm["action"]


def test_job_checks_and_requeue_on_postgresql(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    settings = make_settings(
        **ROOMY,
        store="postgres",
        database_url=postgres_url,
        run_workers=False,
        diagnostics_stuck_job_seconds=0.0,
    )
    with serve(settings) as served:
        queued = {served.queue_job(), served.queue_job()}
        now = time.time()
        # One job runs out of attempts; the other's worker dies with the lease.
        first = served.store.jobs.claim("w1", now, lease_seconds=30)
        second = served.store.jobs.claim("w2", now, lease_seconds=0.01)
        assert first is not None and second is not None and {first.id, second.id} == queued
        dead_id, stuck_id = first.id, second.id
        assert served.store.jobs.fail(dead_id, "w1", "boom", now, retry_at=None)
        time.sleep(0.05)
        diagnosis = served.diagnose()
        assert finding(diagnosis, "jobs.stuck")["detail"]["expired_leases"] == 1
        assert finding(diagnosis, "jobs.dead")["detail"]["dead"] == 1
        repaired = served.repair()
        assert repaired["repairs"][0] == {"name": "requeue_stuck_jobs", "detail": {"requeued": 1}}
        assert served.store.jobs.status(served.tenant_id, stuck_id) == "queued"
        assert finding(repaired, "jobs.stuck")["verdict"] == "ok"
