"""Conversation processing: extract facts from new messages, consolidate them under the user's lock, keep the
session's rolling summary, and report every decision."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from membank.errors import EmbeddingServiceError
from membank.ingest.consolidation import Action, Consolidator, FactContext
from membank.ingest.extraction.ports import CandidateFact, Conversation, ExtractionResult, Extractor, Turn
from membank.ingest.sessions import next_session_state
from membank.jobs.worker import TaskContext
from membank.memories.slots import LOCK_TTL_SECONDS, scope_lock, user_lock
from membank.models import Job, Provenance, iso, now_utc
from membank.observability.metrics import count_llm_tokens
from membank.providers.embedders.batching import INPUT_REJECTED
from membank.providers.embedders.ports import Embedder
from membank.storage.ports import (
    JobProgress,
    JobRepository,
    LockRepository,
    SessionRepository,
    UsageRecord,
    UsageRepository,
)

PROCESS_CONVERSATION = "process_conversation"
CONTEXT_TURNS = 6


def turns_of(messages: list[dict[str, Any]]) -> list[Turn]:
    """Turns from a job payload's messages (timestamps were fixed when the job was queued)."""
    return [
        Turn(
            index=i,
            role=m["role"],
            content=m["content"],
            timestamp=datetime.fromisoformat(m["timestamp"]),
            speaker=m.get("name"),
            message_id=m.get("id"),
        )
        for i, m in enumerate(messages)
    ]


class ConversationProcessor:
    """Runs `process_conversation` jobs: new turns in windows, one extraction call per window."""

    def __init__(
        self,
        embedder: Embedder,
        extractor: Extractor,
        consolidator: Consolidator,
        *,
        jobs: JobRepository,
        locks: LockRepository,
        sessions: SessionRepository,
        usage: UsageRepository,
        window: int,
        lock_ttl: float = LOCK_TTL_SECONDS,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self._jobs = jobs
        self._locks = locks
        self._lock_ttl = lock_ttl
        self._sessions = sessions
        self._usage = usage
        self._embedder = embedder
        self._extractor = extractor
        self._consolidator = consolidator
        self._window = window
        self._on_written = on_written

    async def __call__(self, job: Job, context: TaskContext) -> dict[str, Any]:
        payload = job.payload
        turns = turns_of(payload["messages"])
        new_from = int(payload.get("new_from", 0))
        checkpoint: dict[str, Any] = {
            "actions": [],
            "extractors": [],
            "prompt_version": None,
            "skipped_messages": [],
            **job.checkpoint,
        }
        usage: dict[str, Any] = checkpoint.get("usage") or {}
        done = job.progress_done
        while new_from + done < len(turns):
            start = new_from + done
            end = min(start + self._window, len(turns))
            result = await self._extract(payload, turns, start, end)
            skipped = [_skipped(turns[s.index], "extraction", s.error) for s in result.skipped]
            facts, vectors, refused = await self._embed(result.facts)
            for fact, error in refused:
                said_in = turns[max(fact.source_turns)]
                if all(s["index"] != said_in.index for s in skipped):
                    skipped.append(_skipped(said_in, "embedding", error))
            result.facts = facts
            actions = await self._consolidate(job, context, payload, turns, result, vectors)
            checkpoint["actions"] += [a.as_dict() for a in actions]
            checkpoint["skipped_messages"] += skipped
            if result.extractor not in checkpoint["extractors"]:
                checkpoint["extractors"].append(result.extractor)
            checkpoint["prompt_version"] = result.prompt_version or checkpoint["prompt_version"]
            checkpoint["rejected"] = int(checkpoint.get("rejected", 0)) + result.rejected
            if result.usage is not None:
                usage = _add_usage(usage, result)
                await asyncio.to_thread(self._record_usage, job, result)
            checkpoint["usage"] = usage
            done = end - new_from
            progress = JobProgress(job.id, context.worker_id, done, checkpoint)
            await asyncio.to_thread(self._jobs.save_progress, progress)
            await context.heartbeat(job)
        await self._save_session(job, payload, turns[new_from:], checkpoint["actions"])
        return _result(payload, checkpoint, len(turns) - new_from)

    async def _extract(
        self, payload: dict[str, Any], turns: list[Turn], start: int, end: int
    ) -> ExtractionResult:
        first = max(0, start - CONTEXT_TURNS)
        window = [replace(turn, index=turn.index - first) for turn in turns[first:end]]
        conversation = Conversation(
            user_id=payload["user_id"],
            session_id=payload.get("session_id"),
            turns=window,
            new_from=start - first,
            summary=payload.get("summary"),
            agent_id=payload.get("agent_id"),
        )
        result = await self._extractor.extract(conversation)
        for fact in result.facts:
            fact.source_turns = [first + i for i in fact.source_turns if 0 <= first + i < end]
        result.facts = [fact for fact in result.facts if fact.source_turns]
        result.skipped = [replace(s, index=first + s.index) for s in result.skipped]
        return result

    async def _embed(
        self, facts: list[CandidateFact]
    ) -> tuple[list[CandidateFact], np.ndarray, list[tuple[CandidateFact, str]]]:
        """The facts with their vectors, and the facts whose text the embedding service refused (e.g. too
        long for a remote model) with its reason: those are dropped, the others kept."""
        if not facts:
            return [], np.empty((0, self._embedder.dim), dtype=np.float32), []
        try:
            return facts, await self._embedder.embed([fact.content for fact in facts], background=True), []
        except EmbeddingServiceError as exc:
            if not exc.details.get(INPUT_REJECTED):
                raise  # the service is down or misconfigured: retry the job, do not drop anything
        kept: list[CandidateFact] = []
        vectors: list[np.ndarray] = []
        refused: list[tuple[CandidateFact, str]] = []
        for fact in facts:  # the embedder has cached every text it accepted: only the refused ones cost
            try:
                vectors.append((await self._embedder.embed([fact.content], background=True))[0])
                kept.append(fact)
            except EmbeddingServiceError as exc:
                if not exc.details.get(INPUT_REJECTED):
                    raise
                refused.append((fact, exc.message))
        shape = (len(kept), self._embedder.dim)
        return kept, np.asarray(vectors, dtype=np.float32).reshape(shape), refused

    async def _consolidate(
        self,
        job: Job,
        context: TaskContext,
        payload: dict[str, Any],
        turns: list[Turn],
        result: ExtractionResult,
        vectors: np.ndarray,
    ) -> list[Action]:
        if not result.facts:
            return []
        sources = [_source(payload, turns, fact, result.extractor) for fact in result.facts]
        options: dict[str, Any] = payload.get("options", {})
        fact_context = FactContext(
            tenant_id=job.tenant_id,
            user_id=payload["user_id"],
            actor=job.actor,
            provenance=Provenance(job.id, result.extractor, result.prompt_version),
            model_id=self._embedder.model_id,
            agent_id=payload.get("agent_id"),
            session_id=payload.get("session_id"),
            merge_strategy=options.get("merge_strategy", "replace"),
            tags=tuple(options.get("tags", ())),
            metadata=dict(options.get("metadata", {})),
        )
        lock = user_lock(job.tenant_id, payload["user_id"])
        owner = f"{context.worker_id}/{job.id}"
        async with scope_lock(self._locks, lock, owner, ttl=self._lock_ttl) as lease:
            actions = await self._consolidator.apply(
                fact_context, result.facts, vectors, sources, guard=lease.ensure
            )
        if self._on_written is not None and any(a.event != "NOOP" for a in actions):
            self._on_written()
        return actions

    async def _save_session(
        self, job: Job, payload: dict[str, Any], new_turns: list[Turn], actions: list[dict[str, Any]]
    ) -> None:
        session_id = payload.get("session_id")
        if not session_id:
            return
        previous = await asyncio.to_thread(self._sessions.get, job.tenant_id, payload["user_id"], session_id)
        state = next_session_state(
            previous,
            tenant_id=job.tenant_id,
            user_id=payload["user_id"],
            session_id=session_id,
            new_turns=new_turns,
            actions=actions,
            now=now_utc(),
        )
        await asyncio.to_thread(self._sessions.save, state, job_id=job.id)

    def _record_usage(self, job: Job, result: ExtractionResult) -> None:
        assert result.usage is not None
        count_llm_tokens(
            "extraction",
            result.usage.model,
            prompt=result.usage.prompt_tokens,
            completion=result.usage.completion_tokens,
        )
        self._usage.record(
            UsageRecord(
                tenant_id=job.tenant_id,
                job_id=job.id,
                purpose="extraction",
                model=result.usage.model,
                prompt_tokens=result.usage.prompt_tokens,
                completion_tokens=result.usage.completion_tokens,
                created_at=time.time(),
            )
        )


def _source(
    payload: dict[str, Any], turns: list[Turn], fact: CandidateFact, extractor: str
) -> dict[str, Any]:
    cited = [turns[i] for i in sorted(set(fact.source_turns))]
    return {
        "session_id": payload.get("session_id"),
        "speaker": fact.speaker,
        "extractor": extractor,
        "said_at": iso(max(turn.timestamp for turn in cited)),
        "messages": [
            {
                "session_id": payload.get("session_id"),
                "message_index": turn.index,
                "message_id": turn.message_id,
                "role": turn.role,
                "speaker": turn.speaker,
                "timestamp": iso(turn.timestamp),
            }
            for turn in cited
        ],
    }


def _skipped(turn: Turn, stage: str, error: str) -> dict[str, Any]:
    """A message of the job that cost only itself: where it is, at which stage it failed, and why."""
    return {"index": turn.index, "message_id": turn.message_id, "stage": stage, "error": error}


def _add_usage(usage: dict[str, Any], result: ExtractionResult) -> dict[str, Any]:
    assert result.usage is not None
    return {
        "model": result.usage.model,
        "prompt_tokens": int(usage.get("prompt_tokens", 0)) + result.usage.prompt_tokens,
        "completion_tokens": int(usage.get("completion_tokens", 0)) + result.usage.completion_tokens,
    }


def _result(payload: dict[str, Any], checkpoint: dict[str, Any], turn_count: int) -> dict[str, Any]:
    actions: list[dict[str, Any]] = checkpoint["actions"]
    counts = {event: 0 for event in ("ADD", "UPDATE", "DELETE", "NOOP")}
    for action in actions:
        counts[action["event"]] += 1
    extractors: list[str] = checkpoint["extractors"]
    fell_back = [e for e in extractors if e.startswith("heuristic (")]
    return {
        "user_id": payload["user_id"],
        "session_id": payload.get("session_id"),
        "extractor": fell_back[0] if fell_back else (extractors[0] if extractors else "heuristic"),
        "prompt_version": checkpoint["prompt_version"],
        "usage": checkpoint.get("usage") or None,
        "turns": turn_count,
        "counts": counts,
        "rejected_facts": int(checkpoint.get("rejected", 0)),
        "skipped_messages": checkpoint.get("skipped_messages", []),
        "actions": actions,
    }
