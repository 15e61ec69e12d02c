"""The batch import job: embeds and stores memories chunk by chunk, each chunk exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pydantic

from membank.errors import MemBankError
from membank.jobs.worker import Handler, TaskContext
from membank.memories.schemas import MemoryIn
from membank.models import Job, JobItem, Memory, Principal, Provenance, new_memory, now_utc, to_epoch
from membank.observability.metrics import count_memories_written
from membank.providers.embedders.ports import Embedder
from membank.storage.ports import JobProgress, MemoryRepository

BATCH_IMPORT = "batch_import"
OUTCOMES = ("created", "skipped", "failed")
MAX_ITEM_ERROR = 500

Indexed = list[tuple[int, Memory]]


def batch_import_handler(
    memories: MemoryRepository,
    embedder: Embedder,
    *,
    chunk_size: int,
    on_written: Callable[[], None] | None = None,
) -> Handler:
    """The handler of `batch_import` jobs. Progress, the chunk it counts and the outcome of each of its
    items commit together, so a worker killed mid-job resumes after the last committed chunk and never
    stores a memory twice. Between chunks the job gives way to another tenant's runnable job (back to the
    queue, resumed from its progress), so an import delays other tenants by one chunk at most. The result
    holds counts only; the items are paged by GET /jobs/{id}/items."""

    async def handle(job: Job, context: TaskContext) -> dict[str, Any]:
        principal = Principal.system(job.tenant_id, job.actor)
        items = job.payload["memories"]
        skip_duplicates = bool(job.payload.get("options", {}).get("skip_duplicates", False))
        counts = {outcome: int(job.checkpoint.get(outcome, 0)) for outcome in OUTCOMES}
        done = job.progress_done
        while done < len(items):
            end = min(done + chunk_size, len(items))
            chunk, outcomes = _prepare(principal, items, done, end)
            if skip_duplicates:
                chunk, skipped = await asyncio.to_thread(_drop_duplicates, memories, job.tenant_id, chunk)
                outcomes += skipped
            outcomes += [JobItem(index, "created", memory.id) for index, memory in chunk]
            for outcome in outcomes:
                counts[outcome.status] += 1
            texts = [memory.content for _, memory in chunk]
            vectors = (await embedder.embed(texts, background=True)).tolist() if texts else []
            progress = JobProgress(
                job.id, context.worker_id, end, dict(counts), sorted(outcomes, key=lambda o: o.index)
            )
            await asyncio.to_thread(
                memories.insert,
                [memory for _, memory in chunk],
                vectors,
                embedder.model_id,
                actor=job.actor,
                provenance=Provenance(job_id=job.id),
                progress=progress,
            )
            count_memories_written("batch", len(chunk))
            done = end
            if on_written is not None:
                on_written()
            await context.heartbeat(job)
            if done < len(items):
                await context.give_way(job)  # another tenant's job first; this one resumes after `done`
        return {**counts, "total": len(items), "items": f"/api/v1/jobs/{job.id}/items"}

    return handle


def _prepare(principal: Principal, items: list[Any], start: int, end: int) -> tuple[Indexed, list[JobItem]]:
    """The memories of items[start:end] by input position, and the items that cannot become one. Items are
    validated when the job is queued; this catches what a job queued by an older version let through, so
    one bad item costs that item, not the job."""
    memories: Indexed = []
    failed: list[JobItem] = []
    for index in range(start, end):
        try:
            memories.append((index, new_memory(principal, MemoryIn.model_validate(items[index]))))
        except (pydantic.ValidationError, MemBankError, TypeError, ValueError) as exc:
            error = " ".join(f"{type(exc).__name__}: {exc}".split())[:MAX_ITEM_ERROR]
            failed.append(JobItem(index, "failed", error=error))
    return memories, failed


def _drop_duplicates(
    stored: MemoryRepository, tenant_id: str, memories: Indexed
) -> tuple[Indexed, list[JobItem]]:
    at = to_epoch(now_utc())
    kept: Indexed = []
    skipped: list[JobItem] = []
    seen: set[tuple[str, str]] = set()
    by_user: dict[str, set[str]] = {}
    for index, memory in memories:
        if memory.user_id not in by_user:
            hashes = [m.content_hash for _, m in memories if m.user_id == memory.user_id]
            by_user[memory.user_id] = stored.existing_hashes(tenant_id, memory.user_id, hashes, at=at)
        key = (memory.user_id, memory.content_hash)
        if memory.content_hash in by_user[memory.user_id]:
            skipped.append(
                JobItem(index, "skipped", reason="the user already has a current memory of this content")
            )
        elif key in seen:
            skipped.append(JobItem(index, "skipped", reason="an earlier item of the batch has this content"))
        else:
            seen.add(key)
            kept.append((index, memory))
    return kept, skipped
