"""Ingestion use cases: queue extraction jobs for exchanges, inferred memories and conversation batches;
read batches and sessions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from membank.errors import SessionNotFound, ValidationFailed
from membank.ingest.conversation import PROCESS_CONVERSATION
from membank.ingest.schemas import BatchIn, ConversationIn, MemoryCreateIn, MessageIn, ProcessConversationIn
from membank.jobs.service import JobService, job_out
from membank.models import Job, Principal, from_epoch, iso, now_utc, to_epoch
from membank.storage.ports import Batch, SessionRepository, SessionState, UsageRepository


def _message(message: MessageIn, default_time: datetime, name: str | None = None) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "timestamp": iso(message.timestamp or default_time),
        "name": message.name or (name if message.role == "user" else None),
        "id": message.id,
    }


def _payload(
    *,
    user_id: str,
    session_id: str | None,
    agent_id: str | None,
    messages: list[dict[str, Any]],
    new_from: int,
    summary: str | None,
    merge_strategy: str,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "session_id": session_id,
        "agent_id": agent_id,
        "messages": messages,
        "new_from": new_from,
        "summary": summary,
        "options": {"merge_strategy": merge_strategy},
    }


def user_sequence(principal: Principal, user_id: str) -> str:
    """One user's conversation jobs run one at a time, in the order they were sent: a later session must
    not be consolidated before an earlier one."""
    return f"conversation:{principal.tenant_id}:{user_id}"


def _job_summary(job: Job, *, content: bool) -> dict[str, Any]:
    out = job_out(job, content=content)
    out["result"] = (
        {"counts": job.result.get("counts"), "extractor": job.result.get("extractor")} if job.result else None
    )
    return out


class IngestService:
    def __init__(self, jobs: JobService, *, sessions: SessionRepository, usage: UsageRepository) -> None:
        self._jobs = jobs
        self._sessions = sessions
        self._usage = usage

    async def process_exchange(
        self, principal: Principal, body: ProcessConversationIn, *, idempotency_key: str | None
    ) -> tuple[Job, bool]:
        """Queue extraction from one exchange; `history` is context, not extracted again."""
        at = body.timestamp or now_utc()
        history = [_message(m, at, body.user_name) for m in body.history]
        current = [MessageIn(role="user", content=body.user_input, name=body.user_name)]
        if body.ai_response:
            current.append(MessageIn(role="assistant", content=body.ai_response))
        payload = _payload(
            user_id=body.user_id,
            session_id=body.session_id,
            agent_id=body.agent_id,
            messages=history + [_message(m, at, body.user_name) for m in current],
            new_from=len(history),
            summary=None,
            merge_strategy=body.options.merge_strategy,
        )
        return await self._jobs.enqueue(
            principal,
            PROCESS_CONVERSATION,
            payload,
            total=len(current),
            idempotency_key=idempotency_key,
            sequence_key=user_sequence(principal, body.user_id),
        )

    async def extract_messages(
        self,
        principal: Principal,
        *,
        user_id: str,
        session_id: str | None,
        agent_id: str | None,
        messages: list[MessageIn],
        metadata: dict[str, Any] | None,
    ) -> tuple[Job, bool]:
        """Queue extraction from messages that are all new (mem0's add with `infer`), `metadata` onto every
        memory the job creates."""
        at = now_utc()
        payload = _payload(
            user_id=user_id,
            session_id=session_id,
            agent_id=agent_id,
            messages=[_message(m, at) for m in messages],
            new_from=0,
            summary=None,
            merge_strategy="replace",
        )
        if metadata:
            payload["options"]["metadata"] = dict(metadata)
        return await self._jobs.enqueue(
            principal,
            PROCESS_CONVERSATION,
            payload,
            total=len(messages),
            idempotency_key=None,
            sequence_key=user_sequence(principal, user_id),
        )

    async def infer_memory(
        self, principal: Principal, body: MemoryCreateIn, *, idempotency_key: str | None
    ) -> tuple[Job, bool]:
        """Queue extraction from a memory create with `infer` or `context`; `tags` and `metadata` go onto
        every memory the job creates, fields only extraction can set are refused."""
        unsupported = body.unsupported_when_extracting()
        if unsupported:
            reason = "not accepted with infer or context: extraction sets it"
            raise ValidationFailed(
                f"{', '.join(unsupported)}: {reason}",
                details={"errors": [{"field": name, "reason": reason} for name in unsupported]},
            )
        at = body.valid_from or now_utc()
        context = body.context
        recent = [_message(m, at) for m in (context.recent_messages if context else [])]
        exchange = context.current_exchange if context else None
        current = [MessageIn(role="user", content=body.content)]
        if exchange is not None and exchange.ai_response:
            current.append(MessageIn(role="assistant", content=exchange.ai_response))
        payload = _payload(
            user_id=body.user_id,
            session_id=body.session_id or (context.session_id if context else None),
            agent_id=body.agent_id,
            messages=recent + [_message(m, at) for m in current],
            new_from=len(recent),
            summary=context.summary if context else None,
            merge_strategy="replace",
        )
        if body.tags:
            payload["options"]["tags"] = list(body.tags)
        if body.metadata:
            payload["options"]["metadata"] = dict(body.metadata)
        return await self._jobs.enqueue(
            principal,
            PROCESS_CONVERSATION,
            payload,
            total=len(current),
            idempotency_key=idempotency_key,
            sequence_key=user_sequence(principal, body.user_id),
        )

    async def process_conversations(self, principal: Principal, body: BatchIn) -> tuple[Batch, list[Job]]:
        """Queue one extraction job per conversation, grouped as a batch."""
        assert body.conversations is not None and body.user_id is not None
        batch_id = str(uuid.uuid4())
        jobs = [
            self._jobs.new_job(
                principal,
                PROCESS_CONVERSATION,
                self._conversation_payload(body, conversation),
                total=len(conversation.messages),
                batch_id=batch_id,
                priority=body.options.priority,
                sequence_key=user_sequence(principal, body.user_id),
            )
            for conversation in body.conversations
        ]
        batch = Batch(
            id=batch_id,
            tenant_id=principal.tenant_id,
            user_id=body.user_id,
            job_count=len(jobs),
            options=body.options.model_dump(),
            actor=principal.subject,
            created_at=time.time(),
        )
        await self._jobs.enqueue_batch(batch, jobs)
        return batch, jobs

    @staticmethod
    def _conversation_payload(body: BatchIn, conversation: ConversationIn) -> dict[str, Any]:
        assert body.user_id is not None
        at = conversation.timestamp or now_utc()
        return _payload(
            user_id=body.user_id,
            session_id=conversation.session_id,
            agent_id=body.agent_id,
            messages=[_message(m, at) for m in conversation.messages],
            new_from=0,
            summary=None,
            merge_strategy=body.options.merge_strategy,
        )

    async def batch(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        """A batch with its jobs' states and the totals of their actions."""
        batch, jobs = await self._jobs.get_batch(principal, batch_id)
        statuses = Counter(job.status.value for job in jobs)
        events: Counter[str] = Counter()
        for job in jobs:
            events.update((job.result or {}).get("counts", {}))
        finished = sum(job.status.finished for job in jobs)
        if finished < len(jobs):
            status = "processing" if statuses.keys() - {"queued"} else "queued"
        else:
            status = "completed" if statuses.get("dead", 0) == 0 else "completed_with_errors"
        return {
            "batch_id": batch.id,
            "user_id": batch.user_id,
            "status": status,
            "job_count": batch.job_count,
            "jobs_by_status": dict(statuses),
            "counts": {event: events.get(event, 0) for event in ("ADD", "UPDATE", "DELETE", "NOOP")},
            "options": batch.options,
            "jobs": [_job_summary(job, content=principal.can("memories:read")) for job in jobs],
            "created_at": iso(from_epoch(batch.created_at)),
        }

    async def session(self, principal: Principal, user_id: str, session_id: str) -> SessionState:
        """A session of one of the tenant's users."""
        state = await asyncio.to_thread(self._sessions.get, principal.tenant_id, user_id, session_id)
        if state is None:
            raise SessionNotFound(f"session {session_id} of user {user_id} not found")
        return state

    async def sessions(
        self, principal: Principal, user_id: str, *, limit: int, offset: int
    ) -> list[SessionState]:
        """A user's sessions, most recent first."""
        return await asyncio.to_thread(
            self._sessions.list_for_user, principal.tenant_id, user_id, limit=limit, offset=offset
        )

    async def llm_usage(self, principal: Principal, *, since: datetime) -> list[dict[str, Any]]:
        """LLM calls and tokens of the caller's tenant per model and purpose since `since`."""
        return await asyncio.to_thread(self._usage.summary, principal.tenant_id, since=to_epoch(since))
