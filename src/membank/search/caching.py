"""Caches of per-user answers (search results, synthesized contexts), made stale by the user's writes.

Invalidation uses the per-user revision of the system of record (storage/ports/revisions.py), not Redis
pub/sub: every write to a user's memories bumps it in the write's own transaction, and an answer is cached
under a key that contains the revision it was computed at. A lookup reads the revision first, so after a
write committed through any process, every process (and both layers: L1 and Redis) asks for a key that was
never stored, whichever process wrote. Why not pub/sub: a message sent while a subscriber was disconnected
(Redis restart, network blip, a process starting) is lost and would leave stale L1 entries behind, and an
invalidation would race with an answer being computed from the old data. The revision read is one
primary-key lookup, much cheaper than the search it saves, and needs no Redis to be correct: stale entries
are simply never reached again and expire by TTL.

An answer computed while the tenant had writes in the outbox (committed but not yet in the index) is not
stored: the search could not see them, and their revision bump may already be the one read.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from membank.cache import TieredCache
from membank.storage.ports import Outbox, RevisionCounter

__all__ = ["AnswerCache", "Ticket", "request_digest"]


def request_digest(request: BaseModel, *, exclude: set[str], config: dict[str, Any]) -> str:
    """A digest of the request's fields (sorted JSON), without those that do not change the answer, and of
    the `config` that does (model, weights): processes or deployments configured otherwise never share."""
    body = {"request": request.model_dump(mode="json", exclude=exclude), "config": config}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Ticket:
    """Where an answer goes in the cache, and whether it may be stored there."""

    key: str
    storable: bool


class AnswerCache:
    """JSON answers per tenant, user and request, valid while the user's revision holds."""

    def __init__(self, cache: TieredCache[Any], *, revisions: RevisionCounter, outbox: Outbox) -> None:
        self.cache = cache
        self._revisions = revisions
        self._outbox = outbox

    async def lookup(
        self, tenant_id: str, user_id: str, digest: str, *, use: bool = True
    ) -> tuple[Ticket, Any]:
        """(ticket, the cached answer or None). With `use` False the cache is not read (a fresh answer is
        still stored)."""
        revision = await asyncio.to_thread(self._revisions.revision, tenant_id, user_id)
        # The user's id may be personal data (an email): the key holds a digest of it.
        scope = hashlib.blake2b(f"{tenant_id}\0{user_id}".encode("utf-8", "surrogatepass"), digest_size=16)
        key = f"{scope.hexdigest()}:{revision}:{digest}"
        if use:
            cached = await self.cache.get(key)
            if cached is not None:
                return Ticket(key, storable=False), cached
        # Read after the revision: a write committed but not yet indexed makes this answer unfit to keep.
        unindexed = await asyncio.to_thread(self._outbox.has_pending, tenant_id)
        return Ticket(key, storable=not unindexed), None

    async def store(self, ticket: Ticket, answer: Any) -> None:
        if ticket.storable:
            await self.cache.put(ticket.key, answer)
