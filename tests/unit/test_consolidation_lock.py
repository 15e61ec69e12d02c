"""Two consolidations for one user at the same time (e.g. a job re-claimed after its lease expired while the
first worker still runs): the per-user lock keeps them from storing the same fact twice, whether the lock is
a database lease or on Redis (real redis-server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from membank.bootstrap import build_container
from membank.config import Settings
from membank.ingest.conversation import PROCESS_CONVERSATION
from membank.jobs.worker import TaskContext
from membank.models import Principal, now_utc, to_epoch

TEXT = (
    "I am allergic to peanuts. I play the cello in an orchestra. I live in Oslo. I adopted a cat named Miso."
)


@pytest.fixture(params=["database", "redis"])
def lock_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "database":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url")}


async def test_concurrent_consolidations_of_one_user_store_each_fact_once(
    make_settings: Callable[..., Settings], lock_settings: dict[str, Any]
) -> None:
    container = build_container(make_settings(**lock_settings))
    await container.start()
    try:
        principal = Principal(tenant_id="t1", subject="test")
        payload = {
            "user_id": "u1",
            "session_id": None,
            "messages": [{"role": "user", "content": TEXT, "timestamp": now_utc().isoformat()}],
            "new_from": 0,
        }
        jobs = []
        for _ in range(4):
            job, _ = await container.jobs.enqueue(principal, PROCESS_CONVERSATION, payload, total=1)
            jobs.append(job)
        contexts = []
        for n in range(len(jobs)):
            claimed = container.store.jobs.claim(f"w{n}", time.time(), 30)
            assert claimed is not None
            contexts.append((claimed, TaskContext(f"w{n}", 30, container.store.jobs)))
        handler = container.handlers[PROCESS_CONVERSATION]
        results = await asyncio.gather(*(handler(job, context) for job, context in contexts))
        page = container.store.memories.list_for_user(
            "t1",
            "u1",
            memory_type=None,
            include_invalid=True,
            at=to_epoch(now_utc()),
            sort_by="created_at",
            descending=False,
            limit=100,
            offset=0,
        )
        contents = [m.content for m in page.memories]
        assert len(contents) == len(set(contents)) >= 2, contents
        assert sum(r["counts"]["ADD"] for r in results) == len(contents)
        if lock_settings:  # the leases were taken on Redis (its lock scripts ran), not in the database
            with redis.Redis.from_url(lock_settings["redis_url"]) as client:
                assert client.info("commandstats")["cmdstat_evalsha"]["calls"] >= len(jobs)
    finally:
        await container.aclose()
