"""Exclusive slots ("alice/residence"): which memory holds a subject's current value of an attribute.

A memory that fills a slot retires the slot's old value, whether it came from a conversation or a direct
create. This module is what the memories feature needs to know about slots: the `SlotDetector` port (how a
sentence maps to a slot is the extractor's knowledge; bootstrap injects it), which slots name the same
thing, and the per-user lock under which a writer decides what a new value supersedes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from membank.errors import BackendUnavailable, LeaseLost
from membank.models import Memory
from membank.storage.ports import LockRepository, MemoryRepository

#: The subject of facts a user states about themself when no display name was given.
OWNER_SUBJECT = "user"
# The default lease (MEMBANK_LOCK_TTL_SECONDS): short, because it is renewed while held.
LOCK_TTL_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class SlotFill:
    """What a sentence says about an exclusive attribute: whose (`subject`), which (`attribute`), and the
    value it gives (normalised for comparison: "Berlin now" -> "berlin")."""

    subject: str
    attribute: str
    value: str

    @property
    def slot(self) -> str:
        return f"{self.subject}/{self.attribute}"


class SlotDetector(Protocol):
    """Reads the slot a memory's content fills ("Alice moved to Berlin in 2021" of user alice ->
    alice/residence = "berlin"), or None when it fills none."""

    def __call__(self, content: str, user_id: str) -> SlotFill | None: ...


def slot_aliases(slot: str, user_id: str) -> list[str]:
    """The slots that mean the same as `slot` in `user_id`'s memories: the user's own facts are
    "user/<attribute>" when said by an unnamed user and "<user id>/<attribute>" when the user is named by
    their id ("Alice moved to Berlin" for user alice), and both are one slot."""
    subject, _, attribute = slot.partition("/")
    owner = user_id.casefold()
    if subject not in (OWNER_SUBJECT, owner):
        return [slot]
    return list(dict.fromkeys((f"{OWNER_SUBJECT}/{attribute}", f"{owner}/{attribute}")))


def current_in_slot(
    memories: MemoryRepository, tenant_id: str, user_id: str, slot: str, *, at: float
) -> list[Memory]:
    """The user's memories valid at `at` that fill `slot` or one of its aliases, newest first."""
    found = {
        m.id: m
        for alias in slot_aliases(slot, user_id)
        for m in memories.valid_in_slot(tenant_id, user_id, alias, at=at)
    }
    return sorted(found.values(), key=lambda m: (m.valid_from, m.created_at), reverse=True)


def user_lock(tenant_id: str, user_id: str) -> str:
    """The lock every writer of a user's slots holds while it decides (consolidation, direct creates)."""
    return f"consolidate:{tenant_id}:{user_id}"


class Lease:
    """A held lock as its holder knows it: renewed in the background while the holder works, and checked by
    the holder before each write it protects (`ensure`), so a holder that lost its lease — a renewal was
    refused, or none succeeded for long enough that the lease may have lapsed — stops before writing."""

    def __init__(self, name: str, expires_at: float, ttl: float) -> None:
        self.name = name
        self.expires_at = expires_at
        self.ttl = ttl
        self.lost = False

    def ensure(self) -> None:
        """Raise LeaseLost unless the lease is ours for at least half its ttl more (renewals come every
        sixth: that much left means they are working, and leaves time for one write to commit)."""
        if self.lost or time.time() > self.expires_at - self.ttl / 2:
            raise LeaseLost(f"the lease on {self.name!r} was lost; nothing more is written under it")


async def _keep_alive(locks: LockRepository, lease: Lease, owner: str) -> None:
    while True:
        await asyncio.sleep(lease.ttl / 6)
        now = time.time()
        try:
            renewed = await asyncio.to_thread(locks.acquire, lease.name, owner, now, lease.ttl)
        except BackendUnavailable:
            continue  # the lease runs out on its own unless a later renewal succeeds; `ensure` watches it
        if not renewed:
            lease.lost = True
            return
        lease.expires_at = now + lease.ttl


@contextlib.asynccontextmanager
async def scope_lock(
    locks: LockRepository, name: str, owner: str, *, ttl: float = LOCK_TTL_SECONDS
) -> AsyncIterator[Lease]:
    """Hold a named lease shared by every process; waits while another holder has it. The lease is renewed
    while the block runs; call `ensure()` on it before each write it protects."""
    delay = 0.005
    while True:
        now = time.time()
        if await asyncio.to_thread(locks.acquire, name, owner, now, ttl):
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
    lease = Lease(name, now + ttl, ttl)
    keeper = asyncio.create_task(_keep_alive(locks, lease, owner))
    try:
        yield lease
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        if not lease.lost:
            # The lease expires on its own if its store cannot take it back now.
            with contextlib.suppress(BackendUnavailable):
                await asyncio.to_thread(locks.release, name, owner)
