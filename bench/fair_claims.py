"""Cost and fairness of the claim with a deep backlog: one tenant with tens of thousands of queued jobs, a few
small tenants with a couple each, and many idle tenants (rows in `job_tenants` with no unfinished job).

`python -m bench.fair_claims [--big 50000] [--small 50] [--idle 2000] [--claims 500]` starts a throw-away
PostgreSQL (the pgserver wheel, as the tests do) and a SQLite file, and on each: queues the jobs, prints the
PostgreSQL plan of the claim (EXPLAIN ANALYZE, BUFFERS), times claim + complete one after the other (the real
`SqlJobRepository` calls) and reports how many claims it took until every small tenant had been served.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from tests.support.postgres import start_postgres

from membank.models import Job, JobStatus, now_utc
from membank.storage.ports import Batch
from membank.storage.sql.jobs import _CHOOSE_SKIP_LOCKED
from membank.storage.sql.store import SqlRecordStore
from membank.storage.sql.tables import job_tenants

_CHUNK = 1000


def _jobs(tenant: str, count: int) -> list[Job]:
    now = now_utc()
    return [
        Job(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            kind="bench.noop",
            status=JobStatus.QUEUED,
            payload={},
            created_at=now,
            updated_at=now,
            run_after=now,
            progress_total=1,
            actor="bench",
        )
        for _ in range(count)
    ]


def _queue(store: SqlRecordStore, tenant: str, count: int) -> None:
    for first in range(0, count, _CHUNK):
        size = min(_CHUNK, count - first)
        batch = Batch(str(uuid.uuid4()), tenant, "bench", size, {}, "bench", time.time())
        store.jobs.create_batch(batch, _jobs(tenant, size))


def fill(store: SqlRecordStore, *, big: int, small: int, idle: int) -> float:
    """The backlog: `big` jobs of tenant `big`, then 2 jobs of each small tenant, and idle tenant rows."""
    started = time.perf_counter()
    _queue(store, "big", big)
    for n in range(small):
        _queue(store, f"small-{n:03d}", 2)
    with store.db.write() as conn:
        if idle:
            conn.execute(
                insert(job_tenants),
                [{"tenant_id": f"idle-{n:05d}", "unfinished": 0, "served_seq": 0} for n in range(idle)],
            )
    if store.db.is_postgres:
        with store.db.write() as conn:
            conn.execute(text("ANALYZE jobs"))
            conn.execute(text("ANALYZE job_tenants"))
    return time.perf_counter() - started


def explain(store: SqlRecordStore) -> list[str]:
    """The PostgreSQL plan of the claim's choice, run for real (and rolled back)."""
    with store.db.write() as conn:
        compiled = _CHOOSE_SKIP_LOCKED.compile(conn)
        params = {**compiled.params, "now": time.time() + 1}
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", params).scalars().all()
        conn.rollback()
    return [str(row) for row in rows]


def time_claims(store: SqlRecordStore, claims: int, small: int) -> dict[str, Any]:
    """Claim and complete `claims` jobs one after the other; when was every small tenant served?"""
    claim_ms: list[float] = []
    served: set[str] = set()
    all_small_by: int | None = None
    for n in range(claims):
        started = time.perf_counter()
        job = store.jobs.claim("bench", time.time() + 1, 60)
        claim_ms.append((time.perf_counter() - started) * 1000)
        assert job is not None
        store.jobs.complete(job.id, "bench", {}, time.time())
        if job.tenant_id != "big":
            served.add(job.tenant_id)
            if len(served) == small and all_small_by is None:
                all_small_by = n + 1
    claim_ms.sort()
    return {
        "claims": claims,
        "claim_ms_p50": round(statistics.median(claim_ms), 3),
        "claim_ms_p95": round(claim_ms[int(0.95 * len(claim_ms))], 3),
        "claim_ms_max": round(claim_ms[-1], 3),
        "claims_until_every_small_tenant_served": all_small_by,
    }


def run(store: SqlRecordStore, args: argparse.Namespace) -> dict[str, Any]:
    store.migrate()
    fill_s = fill(store, big=args.big, small=args.small, idle=args.idle)
    result: dict[str, Any] = {"fill_s": round(fill_s, 1)}
    if store.db.is_postgres:
        result["plan"] = explain(store)
    result.update(time_claims(store, args.claims, args.small))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--claims", type=int, default=500)
    args = parser.parse_args()
    results: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="membank-bench-fair-") as directory:
        sqlite = SqlRecordStore.sqlite(Path(directory) / "membank.sqlite3")
        try:
            results["sqlite"] = run(sqlite, args)
        finally:
            sqlite.close()
    with start_postgres(settings={"fsync": "on", "synchronous_commit": "on"}) as server:
        postgres = SqlRecordStore.postgres(server.url(server.create_database()))
        try:
            results["postgres"] = run(postgres, args)
        finally:
            postgres.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
