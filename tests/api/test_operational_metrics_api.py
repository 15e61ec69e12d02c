"""/metrics for operators: job backlog by kind and status, outbox lag, backends up, pool, disk, process,
embedding batches and memory operation durations, read from a real app on SQLite and Qdrant Edge."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.conftest import open_api
from tests.api.metrics_support import moved, samples


def test_a_job_nobody_runs_shows_as_queued_backlog_with_its_age(
    make_settings: Callable[..., Settings],
) -> None:
    with open_api(make_settings(workers=0)) as api:
        body = {
            "user_id": "u1",
            "session_id": "s1",
            "user_input": "I live in Paris.",
            "timestamp": "2026-01-05",
        }
        queued = api.call("POST", "/api/v1/memories/process-conversation", json=body)
        assert queued.status_code == 202, queued.text
        kind = queued.json()["data"]["kind"]
        time.sleep(0.2)
        after = samples(api)
    assert after[("membank_jobs", (("kind", kind), ("status", "queued")))] == 1
    age = after[("membank_job_oldest_age_seconds", (("kind", kind), ("status", "queued")))]
    assert 0.2 <= age < 60


def test_backends_pool_disk_process_and_batches_are_exposed(make_settings: Callable[..., Settings]) -> None:
    with open_api(make_settings()) as api:
        before = samples(api)
        created = api.add("alice keeps bees on the roof")
        assert api.call("GET", f"/api/v1/memories/{created['id']}").status_code == 200
        assert api.search("who keeps bees").status_code == 200
        after = samples(api)

    for backend in ("store", "vector_index", "embedder"):
        assert after[("membank_backend_up", (("backend", backend),))] == 1, backend
    most = after[("membank_db_pool_max_connections", ())]
    s = api.settings
    # SQLite: 8 pooled and 24 overflow; PostgreSQL: as configured.
    assert most == (s.database_pool_size + s.database_max_overflow if s.store == "postgres" else 32)
    in_use = after[("membank_db_pool_connections", (("state", "checked_out"),))]
    assert 0 <= in_use <= most
    free, size = after[("membank_disk_free_bytes", ())], after[("membank_disk_size_bytes", ())]
    assert 0 < free <= size
    assert after[("process_resident_memory_bytes", ())] > 10 * 2**20
    assert after[("process_cpu_seconds_total", ())] > 0
    operation = "membank_memory_operation_duration_seconds_count"
    assert moved(before, after, operation, operation="create") == 1
    assert moved(before, after, operation, operation="get") == 1
    # The memory's content and the query were new texts: each went through a model call.
    assert moved(before, after, "membank_embedding_batch_size_count") >= 1
    assert moved(before, after, "membank_embedding_batch_size_sum") >= 2
    assert moved(before, after, "membank_embedding_batch_duration_seconds_count", outcome="ok") >= 1


def test_outbox_lag_is_the_age_of_the_oldest_item_not_yet_applied(
    make_settings: Callable[..., Settings],
) -> None:
    # The applier polls once an hour here: the items written behind the service's back stay pending.
    settings = make_settings(outbox_poll_seconds=3600.0)
    with open_api(settings) as api:
        memory = api.add("alice keeps bees on the roof")
        assert samples(api)[("membank_outbox_lag_seconds", ())] == 0
        store = build_store(settings)
        store.outbox.enqueue([("acme", memory["id"]), ("acme", memory["id"])])
        with store.db.write() as conn:
            conn.execute(text("UPDATE outbox SET created_at = created_at - 600"))
        store.close()
        after = samples(api)
    assert after[("membank_outbox_pending", ())] == 2
    assert 600 <= after[("membank_outbox_lag_seconds", ())] < 660
