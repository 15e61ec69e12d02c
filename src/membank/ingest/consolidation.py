"""Consolidation: decide ADD / UPDATE / DELETE / NOOP for each candidate fact against what is stored.

Candidates come from three places, all within the user's scope: the same normalised text, the same slot
(subject and attribute: "caroline/residence"), and the nearest memories by vector and keyword search. A new
fact supersedes only memories of its own slot, so where the user lives never retires where the user works.
Paraphrases are NOOPs; facts that merely read alike (other names, numbers, dates, or one denies the other)
are not. Every memory written or retired gets its own action in the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from membank.ingest.candidates import CandidateFinder, negated, salient_tokens
from membank.ingest.extraction.ports import CandidateFact
from membank.ingest.extraction.slots import detect_slot
from membank.memories.slots import current_in_slot
from membank.models import Memory, Provenance, content_hash, fresh_memory, now_utc, supersession, to_epoch
from membank.models.time import in_time_range
from membank.observability.metrics import MEMORIES_UPDATED, count_memories_written, count_new_version
from membank.storage.ports import MemoryRepository, VectorIndex, VersionRepository

Event = Literal["ADD", "UPDATE", "DELETE", "NOOP"]
MergeStrategy = Literal["replace", "merge", "skip"]

PARAPHRASE_SIMILARITY = 0.9
CONTRADICTION_SIMILARITY = 0.8
RETRACT_SIMILARITY = 0.78
UNSLOTTED_RETRACT_SIMILARITY = 0.9
SLOT_VALUE_SIMILARITY = 0.6


@dataclass(slots=True)
class Action:
    """One decision, as reported in the job result."""

    event: Event
    memory_id: str | None
    old: str | None
    new: str | None
    reason: str
    source: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "memory_id": self.memory_id,
            "old": self.old,
            "new": self.new,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class FactContext:
    """Where the facts of one extraction come from and how to store them."""

    tenant_id: str
    user_id: str
    actor: str
    provenance: Provenance
    model_id: str
    agent_id: str | None = None
    session_id: str | None = None
    merge_strategy: MergeStrategy = "replace"
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def slot_of(fact: CandidateFact) -> str | None:
    return f"{fact.subject}/{fact.attribute}" if fact.attribute else None


class Consolidator:
    """Applies candidate facts to one user's memories; callers hold that user's lock."""

    def __init__(
        self,
        index: VectorIndex | None,
        apply_index: Callable[[list[str]], object] | None = None,
        index_ready: Callable[[], bool] | None = None,
        *,
        memories: MemoryRepository,
        versions: VersionRepository,
    ) -> None:
        self._memories = memories
        self._versions = versions
        self._finder = CandidateFinder(memories, index, index_ready)
        self._apply_index = apply_index

    async def apply(
        self,
        context: FactContext,
        facts: Sequence[CandidateFact],
        vectors: np.ndarray,
        sources: list[dict[str, Any]],
        *,
        guard: Callable[[], None] | None = None,
    ) -> list[Action]:
        """Decide and write each fact in order (later facts see earlier ones). `guard` runs before each
        fact's write and stops the loop by raising (the caller's lease check, `Lease.ensure`)."""
        actions: list[Action] = []
        for fact, vector, source in zip(facts, vectors, sources, strict=True):
            if guard is not None:
                guard()
            actions += await asyncio.to_thread(self._decide_and_write, context, fact, vector, source)
        return actions

    def _decide_and_write(
        self, ctx: FactContext, fact: CandidateFact, vector: np.ndarray, source: dict[str, Any]
    ) -> list[Action]:
        at = to_epoch(now_utc())
        if fact.operation == "retract":
            return self._retract(ctx, fact, vector, source, at)
        known = self._memories.valid_with_hash(ctx.tenant_id, ctx.user_id, content_hash(fact.content), at=at)
        if known:
            return [self._already_known(ctx, fact, source, known[0])]
        slot = slot_of(fact)
        if slot is not None:
            filled = current_in_slot(self._memories, ctx.tenant_id, ctx.user_id, slot, at=at)
            if filled:
                return self._replace_in_slot(ctx, fact, vector, source, filled)
        for memory, similarity in self._finder.neighbours(
            ctx.tenant_id, ctx.user_id, fact.content, vector, at
        ):
            if not _same_subject(fact, memory):
                continue
            if _is_paraphrase(fact, memory, similarity):
                return [self._paraphrase(ctx, fact, vector, source, memory, similarity)]
            if _contradicts(fact, memory, similarity):
                successor = self._supersede(ctx, memory, fact, vector, source)
                return [
                    Action(
                        "UPDATE",
                        successor.id,
                        memory.content,
                        fact.content,
                        "contradicts a known fact",
                        source,
                    )
                ]
        memory = self._new_memory(ctx, fact, source)
        self._write_new(ctx, memory, vector)
        return [Action("ADD", memory.id, None, memory.content, "new fact", source)]

    def _already_known(
        self, ctx: FactContext, fact: CandidateFact, source: dict[str, Any], memory: Memory
    ) -> Action:
        # A retried job finds what its own earlier attempt wrote: report that write, not a duplicate.
        if ctx.provenance.job_id is not None:
            for entry in self._versions.history(ctx.tenant_id, memory.lineage_id):
                if (
                    entry.memory_id == memory.id
                    and entry.job_id == ctx.provenance.job_id
                    and entry.event != "SUPERSEDED"
                ):
                    event: Event = "ADD" if entry.event == "CREATE" else "UPDATE"
                    return Action(
                        event,
                        memory.id,
                        entry.old_content if event == "UPDATE" else None,
                        memory.content,
                        "written by an earlier attempt of this job",
                        source,
                    )
        return Action("NOOP", memory.id, memory.content, fact.content, "already known", source)

    def _replace_in_slot(
        self,
        ctx: FactContext,
        fact: CandidateFact,
        vector: np.ndarray,
        source: dict[str, Any],
        filled: list[Memory],
    ) -> list[Action]:
        current = filled[0]
        if _restates(fact, current, ctx.user_id):
            # Said again, in any words ("As I said, I live in Berlin"): the stored memory stays as it is;
            # this NOOP, naming it, is the confirmation.
            reason = f"restates the current value of {current.slot}"
            return [Action("NOOP", current.id, current.content, fact.content, reason, source)]
        similarity = self._finder.similarities(vector, [current]).get(current.id, 0.0)
        if _is_paraphrase(fact, current, similarity):
            return [self._paraphrase(ctx, fact, vector, source, current, similarity)]
        if _said_at(source) < _said_at_of(current):
            # Older news (an earlier session processed late, or replayed history) must not retire the newer
            # value: it is kept as a closed version of the past.
            return [self._store_history(ctx, fact, vector, source, current)]
        if ctx.merge_strategy == "skip":
            reason = "slot already filled (merge_strategy=skip)"
            return [Action("NOOP", current.id, current.content, fact.content, reason, source)]
        successor = self._supersede(ctx, current, fact, vector, source)
        actions = [
            Action(
                "UPDATE",
                successor.id,
                current.content,
                successor.content,
                f"new value of {current.slot}",
                source,
            )
        ]
        for stale in filled[1:]:
            retired = self._invalidate(ctx, stale, successor.valid_from)
            actions.append(
                Action("DELETE", retired.id, stale.content, None, f"replaced value of {stale.slot}", source)
            )
        return actions

    def _paraphrase(
        self,
        ctx: FactContext,
        fact: CandidateFact,
        vector: np.ndarray,
        source: dict[str, Any],
        memory: Memory,
        similarity: float,
    ) -> Action:
        if ctx.merge_strategy == "merge" and len(fact.content) > len(memory.content):
            successor = self._supersede(ctx, memory, fact, vector, source)
            return Action(
                "UPDATE",
                successor.id,
                memory.content,
                successor.content,
                "merged a fuller paraphrase",
                source,
            )
        return Action(
            "NOOP",
            memory.id,
            memory.content,
            fact.content,
            f"paraphrase of a known fact ({similarity:.2f})",
            source,
        )

    def _retract(
        self, ctx: FactContext, fact: CandidateFact, vector: np.ndarray, source: dict[str, Any], at: float
    ) -> list[Action]:
        targets: dict[str, Memory] = {}
        slot = slot_of(fact)
        if slot is not None:
            filled = current_in_slot(self._memories, ctx.tenant_id, ctx.user_id, slot, at=at)
            similarities = self._finder.similarities(vector, filled)
            for memory in filled:
                if _names_same_value(fact, memory, similarities.get(memory.id, 0.0)):
                    targets[memory.id] = memory
        for memory, similarity in self._finder.neighbours(
            ctx.tenant_id, ctx.user_id, fact.content, vector, at
        ):
            if memory.id not in targets and _retracts(fact, memory, similarity):
                targets[memory.id] = memory
        if not targets:
            return [
                Action("NOOP", None, None, fact.content, "nothing stored matches what was retracted", source)
            ]
        said = _said_at(source)
        return [
            Action(
                "DELETE",
                self._invalidate(ctx, memory, said).id,
                memory.content,
                None,
                "retracted by the speaker",
                source,
            )
            for memory in targets.values()
        ]

    def _new_memory(self, ctx: FactContext, fact: CandidateFact, source: dict[str, Any]) -> Memory:
        return fresh_memory(
            tenant_id=ctx.tenant_id,
            user_id=ctx.user_id,
            content=fact.content,
            valid_from=_became_true(fact, source, now_utc()),
            agent_id=ctx.agent_id,
            session_id=ctx.session_id,
            memory_type=fact.memory_type,
            importance=fact.importance,
            tags=list(ctx.tags),
            metadata=_metadata(fact, ctx),
            entities=list(dict.fromkeys(fact.entities)),
            source_refs=_refs(source),
            slot=slot_of(fact),
        )

    def _write_new(self, ctx: FactContext, memory: Memory, vector: np.ndarray) -> None:
        self._memories.insert(
            [memory], [vector.tolist()], ctx.model_id, actor=ctx.actor, provenance=ctx.provenance
        )
        count_memories_written("conversation")
        self._indexed([memory.id])

    def _store_history(
        self,
        ctx: FactContext,
        fact: CandidateFact,
        vector: np.ndarray,
        source: dict[str, Any],
        current: Memory,
    ) -> Action:
        memory = self._new_memory(ctx, fact, source)
        memory.valid_to = max(current.valid_from, memory.valid_from)
        self._write_new(ctx, memory, vector)
        reason = (
            f"an earlier value of {current.slot}: stored as history (valid until {current.valid_from.date()})"
        )
        return Action("ADD", memory.id, None, memory.content, reason, source)

    def _supersede(
        self,
        ctx: FactContext,
        current: Memory,
        fact: CandidateFact,
        vector: np.ndarray,
        source: dict[str, Any],
    ) -> Memory:
        fields = {
            "memory_type": fact.memory_type,
            "importance": fact.importance,
            "tags": list(dict.fromkeys([*current.tags, *ctx.tags])),
            "entities": list(dict.fromkeys(fact.entities)),
            "metadata": {**current.metadata, **_metadata(fact, ctx)},
            "source_refs": _refs(source),
            "session_id": ctx.session_id or current.session_id,
            "slot": slot_of(fact) or current.slot,
        }
        closed, successor = supersession(
            current, fact.content, fields=fields, valid_from=_became_true(fact, source, now_utc())
        )
        self._memories.supersede(
            closed, successor, vector.tolist(), ctx.model_id, actor=ctx.actor, provenance=ctx.provenance
        )
        count_new_version("conversation")
        self._indexed([closed.id, successor.id])
        return successor

    def _invalidate(self, ctx: FactContext, memory: Memory, until: datetime) -> Memory:
        # True until it was said to stop being true (not until we got around to processing it).
        now = now_utc()
        valid_to = min(max(until, memory.valid_from), now)
        retired = replace(
            memory, valid_to=valid_to, deleted_at=now, updated_at=now, version=memory.version + 1
        )
        self._memories.invalidate(retired, actor=ctx.actor, provenance=ctx.provenance)
        MEMORIES_UPDATED.labels("conversation").inc()
        self._indexed([retired.id])
        return retired

    def _indexed(self, ids: list[str]) -> None:
        if self._apply_index is not None:
            self._apply_index(ids)


def _same_subject(fact: CandidateFact, memory: Memory) -> bool:
    subject = memory.metadata.get("subject")
    return subject is None or subject == fact.subject


def _restates(fact: CandidateFact, current: Memory, user_id: str) -> bool:
    """The fact gives its slot the value the current memory already holds, however it is phrased."""
    said = detect_slot(fact.content, user_id)
    known = detect_slot(current.content, user_id)
    return (
        said is not None
        and known is not None
        and said.attribute == known.attribute
        and said.value == known.value
    )


def _is_paraphrase(fact: CandidateFact, memory: Memory, similarity: float) -> bool:
    if similarity < PARAPHRASE_SIMILARITY or not _same_subject(fact, memory):
        return False
    same_facts = salient_tokens(fact.content) == salient_tokens(memory.content)
    return same_facts and negated(fact.content) == negated(memory.content)


def _contradicts(fact: CandidateFact, memory: Memory, similarity: float) -> bool:
    """The new fact denies the stored one, or the reverse ("likes jazz" / "doesn't like jazz")."""
    return (
        similarity >= CONTRADICTION_SIMILARITY
        and memory.slot == slot_of(fact)
        and salient_tokens(fact.content) == salient_tokens(memory.content)
        and negated(fact.content) != negated(memory.content)
    )


def _retracts(fact: CandidateFact, memory: Memory, similarity: float) -> bool:
    """A retraction reaches a memory only of its own slot that states the same names, numbers and dates:
    "no longer work in Paris" does not retire living in Paris, "not on Mondays" not the Friday game."""
    if not _same_subject(fact, memory) or salient_tokens(fact.content) != salient_tokens(memory.content):
        return False
    if memory.slot == slot_of(fact):
        return similarity >= RETRACT_SIMILARITY
    # A memory stored without a slot (e.g. through the API) needs to read almost the same.
    return memory.slot is None and similarity >= UNSLOTTED_RETRACT_SIMILARITY


def _names_same_value(fact: CandidateFact, memory: Memory, similarity: float) -> bool:
    # "I no longer work at Acme" retires the Acme job, not the current one at Google; "forget where I
    # work" names no value and retires the slot.
    if not fact.entities:
        return True
    named = {e.casefold() for e in fact.entities}
    return bool(named & {e.casefold() for e in memory.entities}) or similarity >= SLOT_VALUE_SIMILARITY


def _metadata(fact: CandidateFact, ctx: FactContext) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "source": "conversation",
        **ctx.metadata,
        "subject": fact.subject,
        "speaker": fact.speaker,
    }
    if fact.attribute:
        metadata["attribute"] = fact.attribute
    if ctx.provenance.extractor:
        metadata["extractor"] = ctx.provenance.extractor
    return metadata


def _refs(source: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(ref) for ref in source.get("messages", [])]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _said_at(source: dict[str, Any]) -> datetime:
    said_at = source.get("said_at")
    return _aware(datetime.fromisoformat(said_at)) if said_at else now_utc()


def _said_at_of(memory: Memory) -> datetime:
    """When the stored fact was said: its newest source message, else when it was stored."""
    times = [t for t in (_parse_time(ref.get("timestamp")) for ref in memory.source_refs) if t is not None]
    return max(times, default=memory.created_at)


def _parse_time(value: Any) -> datetime | None:
    # source_refs given through the API are the caller's free-form dicts: a bad time is no time.
    if not isinstance(value, str):
        return None
    try:
        return in_time_range(datetime.fromisoformat(value))  # out of the accepted range: no time either
    except ValueError:
        return None


def _became_true(fact: CandidateFact, source: dict[str, Any], now: datetime) -> datetime:
    # A plan for next month is a fact now; a statement is true from when it was said unless it says when.
    moment = _aware(fact.valid_from) if fact.valid_from else _said_at(source)
    return min(moment, now)
