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

from membank.models import Memory
from membank.storage.ports import LockRepository, MemoryRepository

#: The subject of facts a user states about themself when no display name was given.
OWNER_SUBJECT = "user"
LOCK_TTL_SECONDS = 60.0


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


@contextlib.asynccontextmanager
async def scope_lock(locks: LockRepository, name: str, owner: str) -> AsyncIterator[None]:
    """Hold a named lease shared by every process on the store; waits while another holder has it."""
    delay = 0.005
    while not await asyncio.to_thread(locks.acquire, name, owner, time.time(), LOCK_TTL_SECONDS):
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
    try:
        yield
    finally:
        await asyncio.to_thread(locks.release, name, owner)
