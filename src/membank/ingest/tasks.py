"""The batch import job: embeds and stores memories chunk by chunk, each chunk exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from membank.jobs.worker import Handler, TaskContext
from membank.memories.schemas import MemoryIn
from membank.memories.service import new_memory
from membank.models import Job, Memory, Principal, Provenance, now_utc, to_epoch
from membank.providers.embedders.ports import Embedder
from membank.storage.ports import JobProgress

BATCH_IMPORT = "batch_import"


def batch_import_handler(
    embedder: Embedder, *, chunk_size: int, on_written: Callable[[], None] | None = None
) -> Handler:
    """The handler of `batch_import` jobs. Progress and the chunk it counts commit together, so a worker
    killed mid-job resumes after the last committed chunk and never stores a memory twice."""

    async def handle(job: Job, context: TaskContext) -> dict[str, Any]:
        principal = Principal(tenant_id=job.tenant_id, subject=job.actor)
        items = job.payload["memories"]
        skip_duplicates = bool(job.payload.get("options", {}).get("skip_duplicates", False))
        checkpoint: dict[str, Any] = {"created": 0, "skipped": 0, "memory_ids": [], **job.checkpoint}
        done = job.progress_done
        while done < len(items):
            end = min(done + chunk_size, len(items))
            memories = [new_memory(principal, MemoryIn.model_validate(raw)) for raw in items[done:end]]
            if skip_duplicates:
                kept = await asyncio.to_thread(_drop_duplicates, context, job.tenant_id, memories)
                checkpoint["skipped"] += len(memories) - len(kept)
                memories = kept
            checkpoint["created"] += len(memories)
            checkpoint["memory_ids"] += [m.id for m in memories]
            vectors = (await embedder.embed([m.content for m in memories])).tolist() if memories else []
            progress = JobProgress(job.id, context.worker_id, end, checkpoint)
            await asyncio.to_thread(
                context.store.memories.insert,
                memories,
                vectors,
                embedder.model_id,
                actor=job.actor,
                provenance=Provenance(job_id=job.id),
                progress=progress,
            )
            done = end
            if on_written is not None:
                on_written()
            await context.heartbeat(job)
        return {
            "created": checkpoint["created"],
            "skipped": checkpoint["skipped"],
            "memory_ids": checkpoint["memory_ids"],
            "total": len(items),
        }

    return handle


def _drop_duplicates(context: TaskContext, tenant_id: str, memories: list[Memory]) -> list[Memory]:
    at = to_epoch(now_utc())
    kept: list[Memory] = []
    seen: set[tuple[str, str]] = set()
    by_user: dict[str, set[str]] = {}
    for memory in memories:
        if memory.user_id not in by_user:
            hashes = [m.content_hash for m in memories if m.user_id == memory.user_id]
            by_user[memory.user_id] = context.store.memories.existing_hashes(
                tenant_id, memory.user_id, hashes, at=at
            )
        key = (memory.user_id, memory.content_hash)
        if memory.content_hash in by_user[memory.user_id] or key in seen:
            continue
        seen.add(key)
        kept.append(memory)
    return kept
