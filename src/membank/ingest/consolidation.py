"""Consolidation: decide ADD / UPDATE / DELETE / NOOP for each candidate fact against what is stored.

Candidates come from three places, all within the user's scope: the same normalised text, the same slot
(subject and attribute: "caroline/residence"), and the nearest memories by vector and keyword search. A new
fact supersedes only memories of its own slot, so where the user lives never retires where the user works.
Paraphrases are NOOPs; distinct events that merely read alike (other dates, numbers or names) are not.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from membank.ingest.extraction.ports import CandidateFact
from membank.memories.service import supersession
from membank.models import Memory, Provenance, Scope, content_hash, now_utc, to_epoch
from membank.storage.ports import RecordStore, VectorIndex

Event = Literal["ADD", "UPDATE", "DELETE", "NOOP"]
MergeStrategy = Literal["replace", "merge", "skip"]

PARAPHRASE_SIMILARITY = 0.9
RETRACT_SIMILARITY = 0.78
SLOT_VALUE_SIMILARITY = 0.6
NEIGHBOURS = 8
SCAN_LIMIT = 5_000
_SALIENT = re.compile(r"\b(?:\d[\w:/.-]*|[A-Z][\w'-]+)")


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


def slot_of(fact: CandidateFact) -> str | None:
    return f"{fact.subject}/{fact.attribute}" if fact.attribute else None


def salient_tokens(text: str) -> set[str]:
    """Numbers, dates and names after the first word: two texts that differ in these are different facts."""
    words = text.split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    return {token.casefold() for token in _SALIENT.findall(rest)}


def _cosine(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(vector) or 1.0)
    return np.asarray((matrix @ vector) / np.where(norms == 0, 1.0, norms))


class Consolidator:
    """Applies candidate facts to one user's memories; callers hold that user's lock."""

    def __init__(
        self,
        store: RecordStore,
        index: VectorIndex | None,
        apply_index: Callable[[list[str]], object] | None = None,
    ) -> None:
        self._store = store
        self._index = index
        self._apply_index = apply_index

    async def apply(
        self,
        context: FactContext,
        facts: Sequence[CandidateFact],
        vectors: np.ndarray,
        sources: list[dict[str, Any]],
    ) -> list[Action]:
        """Decide and write each fact in order (later facts see earlier ones)."""
        actions: list[Action] = []
        for fact, vector, source in zip(facts, vectors, sources, strict=True):
            action = await asyncio.to_thread(self._decide_and_write, context, fact, vector, source)
            actions.append(action)
        return actions

    def _decide_and_write(
        self, ctx: FactContext, fact: CandidateFact, vector: np.ndarray, source: dict[str, Any]
    ) -> Action:
        at = to_epoch(now_utc())
        if fact.operation == "retract":
            return self._retract(ctx, fact, vector, source, at)
        duplicates = self._store.memories.valid_with_hash(
            ctx.tenant_id, ctx.user_id, content_hash(fact.content), at=at
        )
        if duplicates:
            return Action(
                "NOOP", duplicates[0].id, duplicates[0].content, fact.content, "already known", source
            )
        slot = slot_of(fact)
        if slot is not None:
            filled = self._store.memories.valid_in_slot(ctx.tenant_id, ctx.user_id, slot, at=at)
            if filled:
                return self._replace_in_slot(ctx, fact, vector, source, filled, at)
        neighbours = self._neighbours(ctx, fact, vector, at)
        for memory, similarity in neighbours:
            if self._is_paraphrase(fact, memory, similarity):
                return self._paraphrase(ctx, fact, vector, source, memory, similarity)
        memory = self._new_memory(ctx, fact, source)
        self._write_new(ctx, memory, vector)
        return Action("ADD", memory.id, None, memory.content, "new fact", source)

    def _replace_in_slot(
        self,
        ctx: FactContext,
        fact: CandidateFact,
        vector: np.ndarray,
        source: dict[str, Any],
        filled: list[Memory],
        at: float,
    ) -> Action:
        current = filled[0]
        similarity = self._similarities(vector, [current.id]).get(current.id, 0.0)
        if self._is_paraphrase(fact, current, similarity):
            return self._paraphrase(ctx, fact, vector, source, current, similarity)
        if _became_true(fact, source, now_utc()) < current.valid_from:
            # Out-of-order input (an older session processed late) must not retire a newer value.
            reason = f"older than the stored value of {current.slot} (valid from {current.valid_from.date()})"
            return Action("NOOP", current.id, current.content, fact.content, reason, source)
        if ctx.merge_strategy == "skip":
            return Action(
                "NOOP",
                current.id,
                current.content,
                fact.content,
                "slot already filled (merge_strategy=skip)",
                source,
            )
        successor = self._supersede(ctx, current, fact, vector, source)
        for stale in filled[1:]:
            self._invalidate(ctx, stale)
        return Action(
            "UPDATE", successor.id, current.content, successor.content, f"new value of {current.slot}", source
        )

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
    ) -> Action:
        targets: dict[str, Memory] = {}
        slot = slot_of(fact)
        if slot is not None:
            filled = self._store.memories.valid_in_slot(ctx.tenant_id, ctx.user_id, slot, at=at)
            similarities = self._similarities(vector, [m.id for m in filled])
            for memory in filled:
                if self._names_same_value(fact, memory, similarities.get(memory.id, 0.0)):
                    targets[memory.id] = memory
        for memory, similarity in self._neighbours(ctx, fact, vector, at):
            if similarity >= RETRACT_SIMILARITY and _same_subject(fact, memory):
                targets.setdefault(memory.id, memory)
        if not targets:
            return Action(
                "NOOP", None, None, fact.content, "nothing stored matches what was retracted", source
            )
        retired = [self._invalidate(ctx, memory) for memory in targets.values()]
        first = retired[0]
        reason = "retracted by the speaker" + (f" ({len(retired)} memories)" if len(retired) > 1 else "")
        return Action("DELETE", first.id, first.content, None, reason, source)

    @staticmethod
    def _names_same_value(fact: CandidateFact, memory: Memory, similarity: float) -> bool:
        # "I no longer work at Acme" retires the Acme job, not the current one at Google; "forget where I
        # work" names no value and retires the slot.
        if not fact.entities:
            return True
        named = {e.casefold() for e in fact.entities}
        return bool(named & {e.casefold() for e in memory.entities}) or similarity >= SLOT_VALUE_SIMILARITY

    @staticmethod
    def _is_paraphrase(fact: CandidateFact, memory: Memory, similarity: float) -> bool:
        if similarity < PARAPHRASE_SIMILARITY or not _same_subject(fact, memory):
            return False
        return salient_tokens(fact.content) == salient_tokens(memory.content)

    def _neighbours(
        self, ctx: FactContext, fact: CandidateFact, vector: np.ndarray, at: float
    ) -> list[tuple[Memory, float]]:
        if self._index is not None:
            found = self._index.search(
                Scope(ctx.tenant_id, ctx.user_id),
                vector.tolist(),
                fact.content,
                filter=None,
                as_of=at,
                limit=NEIGHBOURS,
            )
            ids = list(dict.fromkeys(hit.id for hit in [*found.dense, *found.keyword]))
            similarities = self._similarities(vector, ids)
        else:
            ids, stored = self._store.memories.valid_vectors(
                ctx.tenant_id, ctx.user_id, at=at, limit=SCAN_LIMIT
            )
            scores = _cosine(np.asarray(stored, dtype=np.float32), vector) if stored else np.zeros(0)
            best = np.argsort(-scores)[:NEIGHBOURS]
            similarities = {ids[i]: float(scores[i]) for i in best}
        memories = self._store.memories.get_many(ctx.tenant_id, list(similarities))
        ranked = sorted(similarities.items(), key=lambda item: -item[1])
        return [
            (memories[i], score)
            for i, score in ranked
            if i in memories and memories[i].user_id == ctx.user_id and memories[i].is_valid_at(now_utc())
        ]

    def _similarities(self, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        if not ids:
            return {}
        stored = self._store.memories.vectors(ids)
        present = [i for i in ids if i in stored]
        if not present:
            return {}
        scores = _cosine(np.asarray([stored[i] for i in present], dtype=np.float32), vector)
        return {i: float(score) for i, score in zip(present, scores, strict=True)}

    def _new_memory(self, ctx: FactContext, fact: CandidateFact, source: dict[str, Any]) -> Memory:
        now = now_utc()
        memory_id = str(uuid.uuid4())
        return Memory(
            id=memory_id,
            tenant_id=ctx.tenant_id,
            user_id=ctx.user_id,
            agent_id=ctx.agent_id,
            session_id=ctx.session_id,
            content=fact.content,
            memory_type=fact.memory_type,
            importance=fact.importance,
            metadata=_metadata(fact, ctx),
            entities=list(dict.fromkeys(fact.entities)),
            source_refs=_refs(source),
            content_hash=content_hash(fact.content),
            valid_from=_became_true(fact, source, now),
            created_at=now,
            updated_at=now,
            lineage_id=memory_id,
            slot=slot_of(fact),
        )

    def _write_new(self, ctx: FactContext, memory: Memory, vector: np.ndarray) -> None:
        self._store.memories.insert(
            [memory], [vector.tolist()], ctx.model_id, actor=ctx.actor, provenance=ctx.provenance
        )
        self._indexed([memory.id])

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
            "entities": list(dict.fromkeys(fact.entities)),
            "metadata": _metadata(fact, ctx),
            "source_refs": _refs(source),
            "session_id": ctx.session_id or current.session_id,
            "slot": slot_of(fact) or current.slot,
        }
        closed, successor = supersession(
            current, fact.content, fields=fields, valid_from=_became_true(fact, source, now_utc())
        )
        self._store.memories.supersede(
            closed, successor, vector.tolist(), ctx.model_id, actor=ctx.actor, provenance=ctx.provenance
        )
        self._indexed([closed.id, successor.id])
        return successor

    def _invalidate(self, ctx: FactContext, memory: Memory) -> Memory:
        now = now_utc()
        retired = replace(memory, valid_to=now, deleted_at=now, updated_at=now, version=memory.version + 1)
        self._store.memories.invalidate(retired, actor=ctx.actor, provenance=ctx.provenance)
        self._indexed([retired.id])
        return retired

    def _indexed(self, ids: list[str]) -> None:
        if self._apply_index is not None:
            self._apply_index(ids)


def _same_subject(fact: CandidateFact, memory: Memory) -> bool:
    subject = memory.metadata.get("subject")
    return subject is None or subject == fact.subject


def _metadata(fact: CandidateFact, ctx: FactContext) -> dict[str, Any]:
    metadata: dict[str, Any] = {"subject": fact.subject, "speaker": fact.speaker, "source": "conversation"}
    if fact.attribute:
        metadata["attribute"] = fact.attribute
    if ctx.provenance.extractor:
        metadata["extractor"] = ctx.provenance.extractor
    return metadata


def _refs(source: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(ref) for ref in source.get("messages", [])]


def _became_true(fact: CandidateFact, source: dict[str, Any], now: datetime) -> datetime:
    # A plan for next month is a fact now; a statement is true from when it was said unless it says when.
    said_at = source.get("said_at")
    moment = fact.valid_from or (datetime.fromisoformat(said_at) if said_at else now)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(moment, now)
