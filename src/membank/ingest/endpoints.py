"""HTTP endpoints of conversation processing, batches and sessions."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from membank.api.deps import AppContainer, JobsRead, MemoriesRead, MemoriesWrite, ReportsRead
from membank.api.envelope import Envelope, ok
from membank.api.idempotency import IDEMPOTENCY_KEY_PARAMETER
from membank.api.responses import AUTHENTICATED, QUEUEING, WITH_BODY, error_responses
from membank.errors import BatchNotFound, Conflict, InvalidUserId, SessionNotFound, ValidationFailed
from membank.ingest.schemas import (
    BatchOut,
    LlmUsageOut,
    ProcessConversationIn,
    SessionOut,
    SessionPageOut,
)
from membank.ingest.sessions import session_out
from membank.jobs.endpoints import JOB_ANSWERS, accept_job
from membank.jobs.schemas import JobOut
from membank.memories.schemas import IDENTIFIER_PATTERN, UtcDatetime
from membank.models import Job, iso, now_utc
from membank.models.bounds import MAX_PAGE_OFFSET

router = APIRouter(prefix="/api/v1", tags=["conversations"])

UserIdPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]
SessionIdPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]


@router.post(
    "/memories/process-conversation",
    status_code=202,
    response_model=Envelope[JobOut],
    responses={
        **JOB_ANSWERS,
        **error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED, Conflict, *WITH_BODY, *QUEUEING),
    },
    openapi_extra=IDEMPOTENCY_KEY_PARAMETER,
)
async def process_conversation(
    body: ProcessConversationIn,
    principal: MemoriesWrite,
    container: AppContainer,
    request: Request,
    wait: bool = False,
) -> Response:
    """Extract and consolidate facts from one exchange as a job; the result lists every action."""
    await container.access.require(principal, body.user_id, "write")

    def enqueue(key: str | None) -> Awaitable[tuple[Job, bool]]:
        return container.ingest.process_exchange(principal, body, idempotency_key=key)

    return await accept_job(container, principal, request, enqueue, wait=wait)


@router.get(
    "/batches/{batch_id}",
    response_model=Envelope[BatchOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, BatchNotFound),
)
async def get_batch(
    batch_id: Annotated[str, Path(max_length=64)], principal: JobsRead, container: AppContainer
) -> Response:
    """A batch's status, its jobs and the totals of their actions."""
    summary = await container.ingest.batch(principal, batch_id)
    if not await container.access.allows(principal, [summary["user_id"]], "read", "jobs"):
        raise BatchNotFound(f"batch {batch_id} not found")
    return ok(summary)


@router.get(
    "/users/{user_id}/sessions/{session_id}",
    response_model=Envelope[SessionOut],
    responses=error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED, SessionNotFound),
)
async def get_session(
    user_id: UserIdPath, session_id: SessionIdPath, principal: MemoriesRead, container: AppContainer
) -> Response:
    """A session's rolling summary, key facts and latest messages."""
    await container.access.require(principal, user_id, "read")
    return ok(session_out(await container.ingest.session(principal, user_id, session_id)))


@router.get(
    "/users/{user_id}/sessions",
    response_model=Envelope[SessionPageOut],
    responses=error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED),
)
async def list_sessions(
    user_id: UserIdPath,
    principal: MemoriesRead,
    container: AppContainer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_PAGE_OFFSET)] = 0,
) -> Response:
    """A user's sessions, most recently updated first."""
    await container.access.require(principal, user_id, "read")
    sessions = await container.ingest.sessions(principal, user_id, limit=limit, offset=offset)
    return ok({"sessions": [session_out(s) for s in sessions], "limit": limit, "offset": offset})


@router.get(
    "/usage/llm",
    response_model=Envelope[LlmUsageOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def llm_usage(
    principal: ReportsRead,
    container: AppContainer,
    since: Annotated[
        UtcDatetime | None, Query(description="Start of the period (default: 30 days ago)")
    ] = None,
) -> Response:
    """LLM calls and tokens of the caller's tenant per model and purpose, for cost reports."""
    start = since or now_utc() - timedelta(days=30)
    totals = await container.ingest.llm_usage(principal, since=start)
    return ok({"since": iso(start), "totals": totals})
