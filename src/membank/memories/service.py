"""Memory use cases: create, read, update (supersede), delete (invalidate or erase), history, lists."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import replace
from typing import Any

from membank.errors import MemoryNotCurrent, MemoryNotFound
from membank.memories.schemas import MemoryIn, MemoryPatch
from membank.memories.slots import (
    LOCK_TTL_SECONDS,
    SlotDetector,
    current_in_slot,
    scope_lock,
    user_lock,
)
from membank.models import (
    Memory,
    MemoryVersion,
    Principal,
    content_hash,
    iso,
    new_memory,
    now_utc,
    supersession,
    to_epoch,
)
from membank.observability.metrics import (
    MEMORIES_DELETED,
    MEMORIES_UPDATED,
    count_memories_written,
    count_new_version,
    timed_operation,
)
from membank.providers.embedders.ports import Embedder
from membank.search.indexing import IndexSync
from membank.storage.ports import LockRepository, MemoryPage, MemoryRepository, VersionRepository

_IN_PLACE_FIELDS = ("summary", "memory_type", "importance", "tags", "metadata", "entities")
# What a direct create gives the version it writes over a slot's current value (lineage and owner stay).
_SUCCESSOR_FIELDS = (*_IN_PLACE_FIELDS, "source_refs", "agent_id", "session_id", "slot")


class MemoryService:
    def __init__(
        self,
        embedder: Embedder,
        index_sync: IndexSync | None,
        *,
        memories: MemoryRepository,
        versions: VersionRepository,
        locks: LockRepository,
        lock_ttl: float = LOCK_TTL_SECONDS,
        detect_slot: SlotDetector | None = None,
    ) -> None:
        self._memories = memories
        self._versions = versions
        self._locks = locks
        self._lock_ttl = lock_ttl
        self._embedder = embedder
        self._sync = index_sync
        self._detect_slot = detect_slot
        # Creates of one user's slots in this process queue here, so only one of them at a time polls the
        # lock shared with other processes (and consolidation) instead of all of them backing off.
        self._user_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @timed_operation("create")
    async def create(self, principal: Principal, data: MemoryIn) -> Memory:
        """Store one memory and index it before returning. A memory that fills a slot (`slot`, or found in
        its content) supersedes the slot's current value: the answer is the successor, its `supersedes`
        names the old version. `slot: null` stores it outside any slot."""
        memory = new_memory(principal, data)
        if "slot" not in data.model_fields_set and self._detect_slot is not None:
            found = self._detect_slot(data.content, data.user_id)
            memory.slot = found.slot if found is not None else None
        vectors = await self._embedder.embed([memory.content])
        vector: list[float] = vectors[0].tolist()
        if memory.slot is None:
            written, touched = await asyncio.to_thread(self._insert, principal, memory, vector)
        else:
            lock = user_lock(principal.tenant_id, memory.user_id)
            in_process = self._user_locks.setdefault(lock, asyncio.Lock())
            async with in_process, scope_lock(self._locks, lock, f"create/{memory.id}", ttl=self._lock_ttl):
                written, touched = await asyncio.to_thread(self._write_in_slot, principal, memory, vector)
        await self._apply_index(touched)
        return written

    def _insert(self, principal: Principal, memory: Memory, vector: list[float]) -> tuple[Memory, list[str]]:
        self._memories.insert([memory], [vector], self._embedder.model_id, actor=principal.subject)
        count_memories_written("api")
        return memory, [memory.id]

    def _write_in_slot(
        self, principal: Principal, memory: Memory, vector: list[float]
    ) -> tuple[Memory, list[str]]:
        """The same rule as consolidation: the new value supersedes the current one (and retires any other
        left in the slot); a value dated before the current one is an earlier value, stored as history."""
        assert memory.slot is not None
        filled = current_in_slot(
            self._memories, principal.tenant_id, memory.user_id, memory.slot, at=to_epoch(now_utc())
        )
        if not filled:
            return self._insert(principal, memory, vector)
        current = filled[0]
        if memory.valid_from < current.valid_from:
            memory.valid_to = current.valid_from
            return self._insert(principal, memory, vector)
        fields = {key: getattr(memory, key) for key in _SUCCESSOR_FIELDS}
        closed, successor = supersession(current, memory.content, fields=fields, valid_from=memory.valid_from)
        self._memories.supersede(closed, successor, vector, self._embedder.model_id, actor=principal.subject)
        count_new_version("api")
        touched = [closed.id, successor.id]
        for stale in filled[1:]:
            now = now_utc()
            retired = replace(
                stale,
                valid_to=max(successor.valid_from, stale.valid_from),
                deleted_at=now,
                updated_at=now,
                version=stale.version + 1,
            )
            self._memories.invalidate(retired, actor=principal.subject)
            MEMORIES_UPDATED.labels("api").inc()
            touched.append(retired.id)
        return successor, touched

    @timed_operation("get")
    async def get(self, principal: Principal, memory_id: str) -> Memory:
        """One memory of the caller's tenant, including superseded and deleted ones."""
        memory = await asyncio.to_thread(self._memories.get, principal.tenant_id, memory_id)
        if memory is None:
            raise MemoryNotFound(f"memory {memory_id} not found")
        return memory

    @timed_operation("update")
    async def update(self, principal: Principal, memory_id: str, patch: MemoryPatch) -> Memory:
        """Change fields in place, or supersede the memory with a new version when the content changes."""
        changes = patch.model_dump(exclude_unset=True)  # non-empty, and null only where allowed (MemoryPatch)
        current = await self.get(principal, memory_id)
        if current.valid_to is not None:
            reason = "superseded" if current.superseded_by else "deleted"
            raise MemoryNotCurrent(
                f"memory {memory_id} is {reason}; update its current version instead",
                details={"reason": reason, "superseded_by": current.superseded_by},
            )
        new_content = changes.pop("content", None)
        if new_content is not None and content_hash(new_content) != current.content_hash:
            return await self._supersede(principal, current, new_content, changes)
        return await self._update_in_place(principal, current, changes)

    async def _update_in_place(
        self, principal: Principal, current: Memory, changes: dict[str, Any]
    ) -> Memory:
        diff = {
            key: {"old": getattr(current, key), "new": value}
            for key, value in changes.items()
            if key in _IN_PLACE_FIELDS and getattr(current, key) != value
        }
        if not diff:
            return current
        updated = replace(
            current,
            **{key: change["new"] for key, change in diff.items()},
            version=current.version + 1,
            updated_at=now_utc(),
        )
        await asyncio.to_thread(self._memories.update_fields, updated, diff, actor=principal.subject)
        MEMORIES_UPDATED.labels("api").inc()
        await self._apply_index([updated.id])
        return updated

    async def _supersede(
        self, principal: Principal, current: Memory, content: str, changes: dict[str, Any]
    ) -> Memory:
        fields = {key: value for key, value in changes.items() if key in _IN_PLACE_FIELDS}
        closed, successor = supersession(current, content, fields=fields, valid_from=now_utc())
        vectors = await self._embedder.embed([content])
        await asyncio.to_thread(
            self._memories.supersede,
            closed,
            successor,
            vectors[0].tolist(),
            self._embedder.model_id,
            actor=principal.subject,
        )
        count_new_version("api")
        await self._apply_index([closed.id, successor.id])
        return successor

    @timed_operation("delete")
    async def delete(self, principal: Principal, memory_id: str, *, hard: bool) -> dict[str, Any]:
        """Invalidate a memory (it stays in history), or erase its whole lineage when `hard`."""
        current = await self.get(principal, memory_id)
        if hard:
            erased = await asyncio.to_thread(
                self._memories.erase, principal.tenant_id, current.lineage_id, actor=principal.subject
            )
            MEMORIES_DELETED.labels("hard").inc()
            await self._apply_index(erased)
            return {"id": memory_id, "deleted": True, "erased": True, "erased_versions": len(erased)}
        if current.deleted_at is None and current.valid_to is None:
            now = now_utc()
            current = replace(
                current, valid_to=now, deleted_at=now, updated_at=now, version=current.version + 1
            )
            await asyncio.to_thread(self._memories.invalidate, current, actor=principal.subject)
            MEMORIES_DELETED.labels("soft").inc()
            await self._apply_index([current.id])
        return {
            "id": memory_id,
            "deleted": True,
            "erased": False,
            "valid_to": iso(current.valid_to),
        }

    @timed_operation("history")
    async def history(self, principal: Principal, memory_id: str) -> list[MemoryVersion]:
        """Every version event of the memory's lineage, oldest first."""
        current = await self.get(principal, memory_id)
        return await asyncio.to_thread(self._versions.history, principal.tenant_id, current.lineage_id)

    @timed_operation("list")
    async def list_for_user(
        self,
        principal: Principal,
        user_id: str,
        *,
        memory_type: str | None,
        include_invalid: bool,
        sort_by: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> MemoryPage:
        """A page of a user's memories, valid now unless include_invalid."""
        return await asyncio.to_thread(
            self._memories.list_for_user,
            principal.tenant_id,
            user_id,
            memory_type=memory_type,
            include_invalid=include_invalid,
            at=to_epoch(now_utc()),
            sort_by=sort_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    @timed_operation("stats")
    async def stats(self, principal: Principal, user_id: str) -> dict[str, Any]:
        """Counts and times of a user's memories."""
        return await asyncio.to_thread(
            self._memories.stats, principal.tenant_id, user_id, at=to_epoch(now_utc())
        )

    async def _apply_index(self, memory_ids: list[str]) -> None:
        # The write is committed with its outbox rows; indexing them now gives read-your-writes. Only this
        # request's rows: a bulk import's backlog is the background applier's, not this caller's wait. If it
        # fails, the background applier retries, so the error is not the client's.
        if self._sync is not None:
            await asyncio.to_thread(self._sync.apply_for, memory_ids)
