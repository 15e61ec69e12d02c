"""SQLite and PostgreSQL side by side: single create, batch import, job claims and LOCOMO recall.

    .venv/bin/python -m bench.stores [--quick] [--no-locomo]

One PostgreSQL 16 (the `pgserver` wheel's binaries, started by `tests.support.postgres` on a free loopback
port in a temporary directory, with PostgreSQL's durable defaults: fsync, full_page_writes and
synchronous_commit on) serves every PostgreSQL run, each on a fresh database. For each store a fresh
`membank serve` (bench Server, own data dir) gets the same request bodies: 5 batch imports of 1000 memories
one after the other (with embedding, each waited for until its job completes and the index outbox is empty),
then single creates at concurrency 1 and 8. PostgreSQL/SQLite ratios are reported (the goal: within 1.3x).

Job claims: 4 worker processes drain 10,000 no-op jobs from one store (`bench.job_claims`), on PostgreSQL
and on one SQLite file. LOCOMO raw mode (`bench.locomo`, over HTTP) runs on both stores; its recall must be
equal to 3 decimals.

CPU of the PostgreSQL server processes is measured apart (`postgres_cpu_pct`) and not counted as other load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.support.postgres import PostgresServer, start_postgres

from bench import job_claims, load, locomo
from bench.common import (
    Server,
    log,
    machine_busy_pct,
    machine_cpu_ticks,
    machine_info,
    terminate_on_sigterm,
    wait_for_quiet,
    write_result,
)
from bench.texts import TextGen, user_ids

STORES = ("sqlite", "postgres")
# A production-like cluster: the throw-away test settings (fsync off) would flatter PostgreSQL.
DURABLE_SETTINGS = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}
RATIO_GOAL = 1.3
_CREATE_COUNTS = {1: 600, 8: 1500}
T = TypeVar("T")


def _own_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of the children it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Meter:
    """CPU over a block: of the whole machine, of PostgreSQL (postmaster and backends, which come and go),
    and of everything this benchmark started (itself, the server, worker processes, PostgreSQL); the rest,
    `other_cpu_pct`, is load from other processes that skews the numbers (100 % = one core)."""

    def __init__(self, postgres: PostgresServer) -> None:
        self._postmaster = postgres.process.pid

    def _sample(self) -> tuple[float, float]:
        postgres = _own_cpu_seconds(self._postmaster) + sum(
            _own_cpu_seconds(c) for c in _children(self._postmaster)
        )
        me = os.getpid()
        ours = _own_cpu_seconds(me) + sum(_own_cpu_seconds(c) for c in _children(me) if c != self._postmaster)
        return postgres, ours + postgres

    @contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        (pg0, ours0), machine0, wall0 = self._sample(), machine_cpu_ticks(), time.perf_counter()
        yield
        wall = time.perf_counter() - wall0
        (pg1, ours1), machine = self._sample(), machine_busy_pct(machine0, machine_cpu_ticks())
        into["postgres_cpu_pct"] = round(100 * (pg1 - pg0) / wall, 1)
        into["bench_cpu_pct"] = round(100 * (ours1 - ours0) / wall, 1)
        into["machine_cpu_pct"] = machine
        into["other_cpu_pct"] = round(max(0.0, machine - into["bench_cpu_pct"]), 1)


def _store_env(store: str, postgres: PostgresServer, databases: list[str]) -> dict[str, str]:
    if store == "sqlite":
        return {"MEMBANK_STORE": "sqlite"}
    name = postgres.create_database()
    databases.append(name)
    return {"MEMBANK_STORE": "postgres", "MEMBANK_DATABASE_URL": postgres.url(name)}


def _serve_scenarios(server: Server, meter: Meter, *, quick: bool) -> dict[str, Any]:
    """Batch import then single creates, with bodies that depend only on the seeds (same on every store)."""
    users = user_ids(50)
    result: dict[str, Any] = {"cold_start_s": round(server.cold_start_seconds or 0, 3)}
    batch: dict[str, Any] = {}
    with meter.measure(batch):
        batch.update(
            load.batch_import(
                server, TextGen(seed=1), users, jobs=2 if quick else 5, per_job=1000, concurrent_jobs=0
            )
        )
    completed = sum(job["completed_s"] for job in batch["sequential"])
    searchable = sum(job["indexed_s"] for job in batch["sequential"])
    memories = batch["per_job"] * len(batch["sequential"])
    batch["total_memories_per_s"] = round(memories / completed, 1)
    batch["total_searchable_per_s"] = round(memories / searchable, 1)
    result["batch_import"] = batch
    warm = TextGen(seed=2)
    load.run_load(
        server, load.CREATE_PATH, load.create_bodies(warm, users, 20), concurrency=4, max_seconds=10,
        expected_status=201,
    )  # fmt: skip
    result["create"] = {}
    for concurrency, count in _CREATE_COUNTS.items():
        bodies = load.create_bodies(TextGen(seed=10 + concurrency), users, count // (4 if quick else 1))
        stats: dict[str, Any] = {}
        with meter.measure(stats):
            stats.update(
                load.run_load(
                    server, load.CREATE_PATH, bodies, concurrency=concurrency, max_seconds=60,
                    expected_status=201,
                )
            )  # fmt: skip
        result["create"][str(concurrency)] = stats
        log(f"create c={concurrency}: p50 {stats['p50_ms']} ms, {stats['throughput_rps']} /s")
    result["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    return result


def _per_store(postgres: PostgresServer, run: Callable[[str, dict[str, str]], T]) -> dict[str, T]:
    """`run(store, env)` on SQLite, then on a fresh PostgreSQL database (dropped afterwards)."""
    databases: list[str] = []
    try:
        return {store: run(store, _store_env(store, postgres, databases)) for store in STORES}
    finally:
        for name in databases:
            postgres.drop_database(name)


def _job_claims(postgres: PostgresServer, *, jobs: int, processes: int) -> dict[str, Any]:
    meter = Meter(postgres)
    results: dict[str, Any] = {}
    for store in STORES:
        with tempfile.TemporaryDirectory(prefix="membank-bench-jobs-") as directory:
            name = postgres.create_database() if store == "postgres" else None
            target = postgres.url(name) if name else str(Path(directory) / "membank.sqlite3")
            log(f"job claims on {store}")
            entry: dict[str, Any] = {}
            try:
                with meter.measure(entry):
                    entry.update(job_claims.run_claims(target, jobs_count=jobs, processes=processes, log=log))
            finally:
                if name:
                    postgres.drop_database(name)
            results[store] = entry
    return results


def _ratios(stores: dict[str, Any]) -> dict[str, float | None]:
    sqlite, pg = stores["sqlite"], stores["postgres"]

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    return {
        "create_c1_p50": ratio(pg["create"]["1"]["p50_ms"], sqlite["create"]["1"]["p50_ms"]),
        "create_c1_p99": ratio(pg["create"]["1"]["p99_ms"], sqlite["create"]["1"]["p99_ms"]),
        "create_c8_throughput": ratio(
            sqlite["create"]["8"]["throughput_rps"], pg["create"]["8"]["throughput_rps"]
        ),
        # slower = larger: SQLite's rate over PostgreSQL's
        "batch_import": ratio(
            sqlite["batch_import"]["total_memories_per_s"], pg["batch_import"]["total_memories_per_s"]
        ),
        "batch_searchable": ratio(
            sqlite["batch_import"]["total_searchable_per_s"], pg["batch_import"]["total_searchable_per_s"]
        ),
    }


def _locomo_both(postgres: PostgresServer) -> dict[str, Any]:
    prepared = locomo.prepare(captions=False, context=True)

    def one(store: str, env: dict[str, str]) -> dict[str, Any]:
        log(f"LOCOMO raw mode on {store}")
        run = locomo.run_http(prepared, env=env)
        return {"metrics": run["metrics"], "ingest": run["ingest"], "search": run["search"]}

    runs = _per_store(postgres, one)
    return {
        "questions": prepared.counts["qa_used"],
        "stores": runs,
        "equal_to_3_decimals": _rounded(runs["sqlite"]["metrics"]) == _rounded(runs["postgres"]["metrics"]),
    }


def _rounded(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every metric of every category to 3 decimals (counts and names as they are)."""
    return {
        category: {k: f"{v:.3f}" if isinstance(v, float) else v for k, v in values.items()}
        for category, values in metrics.items()
    }


def run(*, quick: bool = False, with_locomo: bool = True, quiet_wait: float = 0.0) -> dict[str, Any]:
    result: dict[str, Any] = {"machine": machine_info(), "quick": quick}
    result["background_cpu_pct_before"] = wait_for_quiet(max_wait=quiet_wait)
    with terminate_on_sigterm(), start_postgres(settings=DURABLE_SETTINGS) as postgres:
        with postgres.connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()
        result["postgres"] = {"version": version[0] if version else None, "settings": DURABLE_SETTINGS}
        log(f"PostgreSQL {result['postgres']['version']} on port {postgres.port}")
        meter = Meter(postgres)

        def serve(store: str, env: dict[str, str]) -> dict[str, Any]:
            log(f"=== {store}: membank serve ===")
            with Server(env=env) as server:
                return _serve_scenarios(server, meter, quick=quick)

        result["stores"] = _per_store(postgres, serve)
        result["ratios"] = _ratios(result["stores"])
        log(f"PostgreSQL/SQLite: {result['ratios']}")
        result["job_claims"] = _job_claims(postgres, jobs=2000 if quick else 10_000, processes=4)
        if with_locomo:
            result["locomo"] = _locomo_both(postgres)
            log(f"LOCOMO equal to 3 decimals: {result['locomo']['equal_to_3_decimals']}")
    return result


# -- report ----------------------------------------------------------------------------------------


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(value: float | None) -> str:
    return "-" if value is None else ("✅ met" if value <= RATIO_GOAL else "❌ missed")


def _create_rows(stores: dict[str, Any]) -> list[str]:
    out = [
        "| store | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms | server CPU "
        "| PostgreSQL CPU | other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for store, entry in stores.items():
        for concurrency, s in entry["create"].items():
            out.append(
                f"| {store} | {concurrency} | {s['count']} | {s['errors']} | {s['throughput_rps']:.1f} | "
                f"{s['p50_ms']:.2f} | {s['p95_ms']:.2f} | {s['p99_ms']:.2f} | {s['server_cpu_pct']:.0f} % | "
                f"{s['postgres_cpu_pct']:.0f} % | {s['other_cpu_pct']:.0f} % |"
            )
    return out


def _batch_rows(stores: dict[str, Any]) -> list[str]:
    out = [
        "| store | jobs x memories | completed memories/s (all jobs) | median job memories/s "
        "| searchable memories/s | PostgreSQL CPU | other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for store, entry in stores.items():
        b = entry["batch_import"]
        out.append(
            f"| {store} | {len(b['sequential'])} x {b['per_job']} | {b['total_memories_per_s']:.0f} | "
            f"{b['median_memories_per_s']:.0f} | {b['total_searchable_per_s']:.0f} | "
            f"{b['postgres_cpu_pct']:.0f} % | {b['other_cpu_pct']:.0f} % |"
        )
    return out


def _claim_rows(claims: dict[str, Any]) -> list[str]:
    out = [
        "| store | jobs | worker processes | jobs/s | double claims | completed once | jobs per worker "
        "| PostgreSQL CPU | other CPU |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for store, c in claims.items():
        out.append(
            f"| {store} | {c['jobs']:,} | {c['processes']} | {c['jobs_per_s']:.0f} | {c['double_claims']} | "
            f"{c['table']['claimed_once']:,} | {', '.join(map(str, c['per_worker']))} | "
            f"{c['postgres_cpu_pct']:.0f} % | {c['other_cpu_pct']:.0f} % |"
        )
    return out


def _locomo_rows(r: dict[str, Any]) -> list[str]:
    runs = r["stores"]
    keys = ("recall@1", "recall@5", "recall@10", "hit@10", "mrr")
    out = [
        f"| store | {' | '.join(keys)} | import memories/s |",
        f"|---|{'---:|' * (len(keys) + 1)}",
    ]
    for store, run in runs.items():
        metrics = " | ".join(f"{run['metrics']['overall'][k]:.3f}" for k in keys)
        out.append(f"| {store} | {metrics} | {run['ingest'].get('memories_per_s')} |")
    return out


def targets(r: dict[str, Any] | None) -> list[tuple[str, str, str, bool | None]]:
    """Rows of the targets table (name, goal, measured, met)."""
    if not r:
        return []
    ratios = r["ratios"]
    rows: list[tuple[str, str, str, bool | None]] = []
    for key, name in (
        ("create_c1_p50", "Single create, c=1: p50"),
        ("batch_import", "Batch import (1000 per job, with embedding): time"),
    ):
        value = ratios.get(key)
        met = None if value is None else value <= RATIO_GOAL
        rows.append((f"{name}, PostgreSQL / SQLite", f"≤ {RATIO_GOAL}x", _x(value), met))
    claims = r["job_claims"]["postgres"]
    rows.append(
        (
            f"Job claims: {claims['processes']} worker processes on PostgreSQL drain {claims['jobs']:,} jobs",
            "0 double claims",
            f"{claims['double_claims']} ({claims['jobs_per_s']:.0f} jobs/s)",
            claims["double_claims"] == 0 and claims["all_completed_once"],
        )
    )
    if r.get("locomo"):
        equal = r["locomo"]["equal_to_3_decimals"]
        recall = r["locomo"]["stores"]["postgres"]["metrics"]["overall"]["recall@10"]
        rows.append(
            (
                "LOCOMO raw turns on PostgreSQL: recall@10 equal to SQLite's",
                "to 3 decimals",
                f"{recall:.3f}",
                equal,
            )
        )
    return rows


def report_section(r: dict[str, Any]) -> list[str]:
    """The stores section of docs/benchmarks.md (bench.run_all renders it)."""
    ratios = r["ratios"]
    pg = r["postgres"]
    settings = ", ".join(f"{k}={v}" for k, v in pg["settings"].items())
    out = [
        "## SQLite and PostgreSQL side by side (`bench/stores.py`)",
        "",
        f"Command: `{r.get('command', 'python -m bench.stores')}` — run {r['machine']['date']}, code "
        f"{r['machine'].get('git_commit')}.",
        "",
        f"One PostgreSQL {pg['version']} from the `pgserver` wheel on 127.0.0.1 ({settings}: PostgreSQL's "
        "durable defaults, not the tests' fsync=off), a fresh database per run; SQLite in WAL mode with "
        "synchronous=NORMAL (the embedded default). Each store gets a fresh `membank serve` and the same "
        "request bodies. CPU columns: 100 % = one core; *PostgreSQL CPU* is the postmaster and its backends, "
        "*other CPU* what processes this benchmark did not start used meanwhile "
        f"({r.get('background_cpu_pct_before')} % just before the run: other sessions share the 2 cores, so "
        "compare the stores within this run, not with other sections).",
        "",
        "| PostgreSQL / SQLite (goal ≤ 1.3x) | ratio | |",
        "|---|---:|---|",
        f"| single create, c=1: p50 | {_x(ratios['create_c1_p50'])} | {_verdict(ratios['create_c1_p50'])} |",
        f"| single create, c=1: p99 | {_x(ratios['create_c1_p99'])} | |",
        f"| single create, c=8: time per request (1 / throughput) | {_x(ratios['create_c8_throughput'])} | |",
        f"| batch import, time to completed | {_x(ratios['batch_import'])} | {_verdict(ratios['batch_import'])} |",
        f"| batch import, time to searchable | {_x(ratios['batch_searchable'])} | |",
        "",
        "### Single create (`POST /api/v1/memories`)",
        "",
        *_create_rows(r["stores"]),
        "",
        "### Batch import (`POST /api/v1/memories/batch`, with embedding)",
        "",
        "Jobs of 1000 memories one after the other, each waited for until it reads `completed` and the index "
        "outbox is empty (*searchable*).",
        "",
        *_batch_rows(r["stores"]),
        "",
        "### Job claims",
        "",
        "Worker processes (multiprocessing spawn), each with its own `SqlRecordStore` and the real worker step "
        "(`Worker.run_once`: claim under a lease, run the handler, complete), drain no-op jobs queued "
        "beforehand. *double claims*: jobs whose handler ran more than once or whose row shows more than one "
        "attempt; *completed once*: rows `completed` with `attempts` = 1.",
        "",
        *_claim_rows(r["job_claims"]),
    ]
    if r.get("locomo"):
        lo = r["locomo"]
        out += [
            "",
            "### LOCOMO raw mode on both stores",
            "",
            f"`bench.locomo` over HTTP (the reported configuration), {lo['questions']} questions. Equal to 3 "
            f"decimals: **{'yes' if lo['equal_to_3_decimals'] else 'no'}**.",
            "",
            *_locomo_rows(lo),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer memories, requests and jobs")
    parser.add_argument("--no-locomo", action="store_true", help="skip the LOCOMO runs")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to N s for an idle machine")
    args = parser.parse_args()
    result = run(quick=args.quick, with_locomo=not args.no_locomo, quiet_wait=args.wait_quiet)
    result["command"] = "python -m bench.stores" + (" --quick" if args.quick else "")
    path = write_result("stores" + ("-quick" if args.quick else ""), result)
    log(f"wrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
