"""`membank doctor [--json] [--repair]` on the configured store and index, with the server stopped (and while
it runs, when the embedded index is the server's): a table or JSON, exit 1 when a check fails."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
from click.testing import CliRunner, Result

from membank.bootstrap import build_index, build_store
from membank.cli.main import cli
from membank.config import Settings
from membank.diagnostics import REPAIR_EVENT
from tests.api.conftest import open_api

# Sealing key of the test's own (on PostgreSQL the data directory's key file is itself a risk the diagnosis
# names: several instances must share one key).
SEALING_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
ROOMY = {
    "diagnostics_min_free_disk_bytes": 2**20,
    "diagnostics_min_free_memory_bytes": 2**20,
    "auth_secret_key": SEALING_KEY,
}


def _env(settings: Settings) -> dict[str, str]:
    return {
        "MEMBANK_DATA_DIR": str(settings.data_dir),
        "MEMBANK_DIAGNOSTICS_MIN_FREE_DISK_BYTES": str(2**20),
        "MEMBANK_DIAGNOSTICS_MIN_FREE_MEMORY_BYTES": str(2**20),
        "MEMBANK_DIAGNOSTICS_STUCK_JOB_SECONDS": "0",
        "MEMBANK_LOG_LEVEL": "WARNING",
        "MEMBANK_AUTH_SECRET_KEY": SEALING_KEY,
    }


def _doctor(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *args], env=_env(settings))


def _json(settings: Settings, *args: str, code: int) -> dict[str, Any]:
    result = _doctor(settings, "--json", *args)
    assert result.exit_code == code, result.output
    data: dict[str, Any] = orjson.loads(result.stdout)
    return data


def _verdicts(diagnosis: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["verdict"] for f in diagnosis["findings"]}


def _seeded(make_settings: Callable[..., Settings]) -> tuple[Settings, list[str], str]:
    """Two memories and a queued job written through the API, the server stopped afterwards."""
    settings = make_settings(**ROOMY, run_workers=False)
    with open_api(settings) as api:
        ids = [api.add("Alice lives in Lisbon")["id"], api.add("Alice works at Acme")["id"]]
        body = {"memories": [{"user_id": "u1", "content": "Imported fact"}]}
        job_id = api.call("POST", "/api/v1/memories/batch", json=body).json()["data"]["id"]
    return settings, ids, job_id


def test_a_healthy_service_prints_every_check_ok_and_exits_0(make_settings: Callable[..., Settings]) -> None:
    settings, _, _ = _seeded(make_settings)
    result = _doctor(settings)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "VERDICT", "DETAIL"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:10]}
    assert set(rows.values()) == {"ok"} and len(rows) == 9
    assert "records=2 indexed=2" in result.stdout and lines[-1] == "verdict: ok"
    assert _json(settings, code=0)["verdict"] == "ok"


def test_faults_fail_with_exit_1_and_repair_clears_them_on_record(
    make_settings: Callable[..., Settings],
) -> None:
    settings, ids, job_id = _seeded(make_settings)
    store = build_store(settings)
    index = build_index(settings, store)
    try:
        index.delete([ids[0]])  # the index loses a memory's document behind the service's back
    finally:
        index.close()
    # A worker claims the job and dies.
    assert store.jobs.claim("worker-that-died", time.time(), lease_seconds=0.01) is not None
    time.sleep(0.05)

    failing = _json(settings, code=1)
    assert failing["verdict"] == "fail"
    assert _verdicts(failing)["index.drift"] == "fail" and _verdicts(failing)["jobs.stuck"] == "fail"
    table = _doctor(settings)
    assert table.exit_code == 1 and "jobs.stuck: no worker re-claims these jobs" in table.stdout

    repaired = _json(settings, "--repair", code=0)
    assert {r["name"]: r["detail"] for r in repaired["repairs"]} == {
        "requeue_stuck_jobs": {"requeued": 1},
        "repair_index_drift": {"missing": 1, "stale": 0, "orphaned": 0, "records": 2},
    }
    assert set(_verdicts(repaired).values()) == {"ok"}
    try:
        events = store.security_events.list(None, kind=REPAIR_EVENT)
        assert {(e.actor, e.target, e.tenant_id) for e in events} == {
            ("cli:membank doctor", "requeue_stuck_jobs", None),
            ("cli:membank doctor", "repair_index_drift", None),
        }
        assert store.jobs.status(store.keys.ensure_tenant("acme").id, job_id) == "queued"
    finally:
        store.close()


def test_beside_a_running_server_an_embedded_index_is_left_to_it(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(**ROOMY)
    with open_api(settings) as api:
        api.add("Alice lives in Lisbon")
        diagnosis = _json(settings, code=0)
    drift = next(f for f in diagnosis["findings"] if f["name"] == "index.drift")
    if settings.vector_index != "qdrant-edge":
        # A shared index (pgvector, a Qdrant server) is compared online, beside the servers.
        assert drift["verdict"] == "ok" and drift["detail"]["compared"] is True
        return
    assert drift["verdict"] == "warn" and drift["detail"] == {"compared": False}
    assert "GET /api/v1/admin/diagnostics" in drift["action"]
