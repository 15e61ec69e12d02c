"""Races on the SQL system of record, with real threads and processes on SQLite and PostgreSQL: claimers
never share a job, sequences stay one at a time and in order, named locks exclude, and idempotency keys,
job idempotency keys and tenants are taken exactly once."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import select

from membank.models import Job
from membank.storage.ports import Batch
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.idempotency import SqlIdempotency
from membank.storage.sql.jobs import SqlJobRepository, enqueue
from membank.storage.sql.keys import SqlKeyRepository
from membank.storage.sql.locks import SqlLockRepository
from membank.storage.sql.tables import jobs as jobs_table
from tests.contract.records import job
from tests.contract.sql_drain import DrainReport, drain

T = TypeVar("T")
RACERS = 8
ROUNDS = 10


def _job(sequence: str | None = None, key: str | None = None) -> Job:
    return job(sequence_key=sequence, idempotency_key=key)


def _race(count: int, call: Callable[[int], T]) -> list[T]:
    """Run `call(i)` in `count` threads released together."""
    start = threading.Barrier(count)

    def run(i: int) -> T:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _queue_batch(jobs: SqlJobRepository, count: int) -> list[str]:
    members = [_job() for _ in range(count)]
    jobs.create_batch(Batch(str(uuid.uuid4()), "t1", "u", count, {}, "test", time.time()), members)
    return [job.id for job in members]


def test_claimers_in_threads_never_get_the_same_job(sql_db: SqlDatabase) -> None:
    jobs = SqlJobRepository(sql_db)
    queued = _queue_batch(jobs, 300)
    completions: Counter[str] = Counter()
    guard = threading.Lock()

    def work(worker: int) -> None:
        while (job := jobs.claim(f"w{worker}", time.time(), 300)) is not None:
            if jobs.complete(job.id, f"w{worker}", {}, time.time()):
                with guard:
                    completions[job.id] += 1

    _race(4, work)
    assert sorted(completions) == sorted(queued)
    assert set(completions.values()) == {1}
    assert jobs.counts() == {"completed": 300}


def test_claimer_processes_drain_the_queue_without_double_claims(
    sql_db: SqlDatabase, sql_url: str, sql_engine: str
) -> None:
    jobs = SqlJobRepository(sql_db)
    queued = _queue_batch(jobs, 500)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(5)
    reports: multiprocessing.Queue[DrainReport] = context.Queue()
    workers = [context.Process(target=drain, args=(sql_url, f"p{i}", ready, reports)) for i in range(4)]
    for worker in workers:
        worker.start()
    ready.wait(timeout=120)
    done = [reports.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    claims = Counter(job_id for report in done for job_id in report.claimed)
    completions = Counter(job_id for report in done for job_id in report.completed)
    assert sorted(claims) == sorted(queued) and set(claims.values()) == {1}
    assert sorted(completions) == sorted(queued) and set(completions.values()) == {1}
    assert jobs.counts() == {"completed": 500}
    seconds = max(r.finished for r in done) - min(r.started for r in done)
    print(f"\n{sql_engine}: 4 processes drained 500 jobs in {seconds:.2f} s = {500 / seconds:.0f} jobs/s")


def _run_sequences(
    jobs: SqlJobRepository, enqueue: Callable[[], None], expected: int, claimers: int = 4
) -> list[tuple[str, str, str]]:
    """Claimer threads run jobs while `enqueue` (in its own threads) queues them; returns the log of
    ("start" | "end", sequence key, job id): "start" right after a claim, "end" before the completion."""
    log: list[tuple[str, str, str]] = []
    guard = threading.Lock()
    finished = threading.Event()
    ended = [0]

    def work(worker: int) -> None:
        while not finished.is_set():
            job = jobs.claim(f"w{worker}", time.time(), 300)
            if job is None:
                time.sleep(0.001)
                continue
            assert job.sequence_key is not None
            with guard:
                log.append(("start", job.sequence_key, job.id))
            time.sleep(0.001)  # hold the job a moment: a claim of the next one of its sequence would show
            with guard:
                log.append(("end", job.sequence_key, job.id))
                ended[0] += 1
                if ended[0] == expected:
                    finished.set()
            assert jobs.complete(job.id, f"w{worker}", {}, time.time())

    with ThreadPoolExecutor(claimers + 1) as pool:
        running = [pool.submit(work, i) for i in range(claimers)]
        pool.submit(enqueue).result()
        for future in running:
            future.result(timeout=120)
    return log


def _assert_one_at_a_time_in_queue_order(db: SqlDatabase, log: list[tuple[str, str, str]]) -> None:
    with db.read() as conn:
        order = {job_id: n for job_id, n in conn.execute(select(jobs_table.c.id, jobs_table.c.enqueue_seq))}
    by_sequence: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event, sequence, job_id in log:
        by_sequence[sequence].append((event, job_id))
    for events in by_sequence.values():
        # start A, end A, start B, end B...: never two of a sequence at once, and in queue order.
        assert [event for event, _ in events] == ["start", "end"] * (len(events) // 2)
        started = [job_id for event, job_id in events if event == "start"]
        assert started == sorted(started, key=order.__getitem__)


def test_sequences_run_one_at_a_time_in_order_under_concurrent_claimers(sql_db: SqlDatabase) -> None:
    jobs = SqlJobRepository(sql_db)
    users = [f"user-{n}" for n in range(6)]

    def enqueue() -> None:
        batch = [_job(sequence=user) for _ in range(6) for user in users]
        jobs.create_batch(Batch("b", "t1", "u", len(batch), {}, "test", time.time()), batch)

    log = _run_sequences(jobs, enqueue, expected=36)
    _assert_one_at_a_time_in_queue_order(sql_db, log)
    assert jobs.counts() == {"completed": 36}


def test_jobs_queued_concurrently_with_claims_keep_their_sequence_rule(sql_db: SqlDatabase) -> None:
    jobs = SqlJobRepository(sql_db)

    def enqueue() -> None:
        _race(4, lambda i: [jobs.enqueue(_job(sequence=f"user-{(i + n) % 2}")) for n in range(15)])

    log = _run_sequences(jobs, enqueue, expected=60)
    _assert_one_at_a_time_in_queue_order(sql_db, log)
    assert jobs.counts() == {"completed": 60}


def test_a_job_queued_behind_one_still_being_queued_cannot_be_claimed_first(sql_db: SqlDatabase) -> None:
    """B, queued for a sequence while the enqueue of A (same sequence) has not committed yet, must not run
    before A: otherwise A, once committed, would find nothing earlier than itself and run beside B."""
    jobs = SqlJobRepository(sql_db)
    first, second = _job(sequence="user-a"), _job(sequence="user-a")
    with ThreadPoolExecutor(2) as pool, sql_db.write() as conn:
        enqueue(conn, first)
        queued_second = pool.submit(jobs.enqueue, second)
        time.sleep(0.3)  # time enough for the second enqueue to commit, were it not held back
        claimed = pool.submit(jobs.claim, "w1", time.time() + 1, 300)
        time.sleep(0.3)
    queued_second.result(timeout=30)
    got = claimed.result(timeout=30)
    # PostgreSQL: the claim ran while neither job was visible; SQLite: it waited for the writer, then took A.
    assert got is None or got.id == first.id
    order = [jobs.claim("w2", time.time() + 1, 300) for _ in range(2)]
    expected = [None, None] if got is not None else [first.id, None]
    assert [job.id if job else None for job in order] == expected


def test_concurrent_enqueues_with_one_idempotency_key_create_one_job(sql_db: SqlDatabase) -> None:
    jobs = SqlJobRepository(sql_db)
    for round_ in range(ROUNDS):
        results = _race(RACERS, lambda _i, key=f"key-{round_}": jobs.enqueue(_job(key=key)))
        assert sum(created for _, created in results) == 1
        assert len({job.id for job, _ in results}) == 1
    assert jobs.counts() == {"queued": ROUNDS}


def test_concurrent_reserves_of_one_key_let_exactly_one_request_run(sql_db: SqlDatabase) -> None:
    repo = SqlIdempotency(sql_db)
    for round_ in range(ROUNDS):
        key = f"fresh-{round_}"
        held = _race(RACERS, lambda i, key=key: repo.reserve("t1", key, f"h{i}", 100.0, stale_after=60))
        winners = [i for i, found in enumerate(held) if found is None]
        assert len(winners) == 1
        assert all(found is not None and found.status == 0 for found in held if found is not None)
        assert {found.request_hash for found in held if found is not None} == {f"h{winners[0]}"}


def test_concurrent_takeovers_of_a_stale_reservation_let_exactly_one_request_run(sql_db: SqlDatabase) -> None:
    repo = SqlIdempotency(sql_db)
    for round_ in range(ROUNDS):
        key = f"stale-{round_}"
        assert repo.reserve("t1", key, "died", 0.0, stale_after=60) is None
        held = _race(RACERS, lambda i, key=key: repo.reserve("t1", key, f"h{i}", 1000.0, stale_after=60))
        assert sum(found is None for found in held) == 1


def test_concurrent_acquires_of_a_free_lock_grant_it_once(sql_db: SqlDatabase) -> None:
    locks = SqlLockRepository(sql_db)
    for round_ in range(ROUNDS):
        name = f"lock-{round_}"
        granted = _race(RACERS, lambda i, name=name: locks.acquire(name, f"owner-{i}", 100.0, 30))
        assert sum(granted) == 1
        # An expired lock is taken over by exactly one of the racers too.
        granted = _race(RACERS, lambda i, name=name: locks.acquire(name, f"late-{i}", 200.0, 30))
        assert sum(granted) == 1


def test_two_consolidations_for_one_user_serialise(sql_db: SqlDatabase) -> None:
    locks = SqlLockRepository(sql_db)
    name = "consolidate:t1:u1"
    # A read-modify-write that loses updates unless the lock keeps the two out of each other's way.
    state = {"count": 0, "inside": 0, "overlaps": 0}

    def consolidate(worker: int) -> None:
        for _ in range(15):
            while not locks.acquire(name, f"consolidator-{worker}", time.time(), 30):
                time.sleep(0.0005)
            state["inside"] += 1
            if state["inside"] > 1:
                state["overlaps"] += 1
            seen = state["count"]
            time.sleep(0.002)
            state["count"] = seen + 1
            state["inside"] -= 1
            locks.release(name, f"consolidator-{worker}")

    _race(2, consolidate)
    assert state == {"count": 30, "inside": 0, "overlaps": 0}


def test_concurrent_ensure_tenant_creates_one_tenant(sql_db: SqlDatabase) -> None:
    keys = SqlKeyRepository(sql_db)
    tenants = _race(RACERS, lambda _i: keys.ensure_tenant("acme"))
    assert len({tenant.id for tenant in tenants}) == 1
    assert [tenant.name for tenant in keys.tenants()] == ["acme"]
