"""HTTP endpoints of memories: CRUD, history, batch import, per-user lists and stats."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.convertors import StringConvertor, register_url_convertor

from membank.api.deps import (
    AppContainer,
    MemoriesDelete,
    MemoriesRead,
    MemoriesWrite,
    ReportsRead,
    require_recent_mfa,
)
from membank.api.envelope import Envelope, ok
from membank.api.idempotency import IDEMPOTENCY_KEY_PARAMETER, replay_or_run, run_once
from membank.api.responses import AUTHENTICATED, QUEUEING, WITH_BODY, error_responses
from membank.errors import (
    Conflict,
    EmbeddingServiceError,
    Forbidden,
    InvalidUserId,
    MemoryChanged,
    MemoryNotCurrent,
    MemoryNotFound,
    Overloaded,
    StepUpRequired,
    ValidationFailed,
)
from membank.ingest.schemas import BatchAcceptedOut, BatchIn, MemoryCreateIn
from membank.ingest.tasks import BATCH_IMPORT
from membank.jobs.endpoints import JOB_ANSWERS, accept_job
from membank.jobs.schemas import JobOut
from membank.memories.schemas import (
    IDENTIFIER_PATTERN,
    MemoryDeletedOut,
    MemoryHistoryOut,
    MemoryOut,
    MemoryPageOut,
    MemoryPatch,
    MemoryStatsOut,
    memory_out,
    version_out,
)
from membank.models import Job, Memory
from membank.models.bounds import MAX_PAGE_OFFSET

router = APIRouter(prefix="/api/v1", tags=["memories"])


class _MemoryIdConvertor(StringConvertor):
    # The actions beside the ids (/memories/search, ...) never match as an id: PATCH /memories/search is then
    # a 405 naming the allowed methods, not a 400 about a malformed memory id.
    regex = r"(?!(?:search|batch|process-conversation|synthesize-context)(?:/|$))[^/]+"


register_url_convertor("memory_id", _MemoryIdConvertor())

MemoryId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-fA-F\-]{1,64}$")]
UserIdPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]


@router.post(
    "/memories",
    status_code=201,
    response_model=Envelope[MemoryOut],
    responses={
        **JOB_ANSWERS,
        **error_responses(
            ValidationFailed,
            InvalidUserId,
            *AUTHENTICATED,
            Conflict,
            *WITH_BODY,
            *QUEUEING,
            EmbeddingServiceError,
            Overloaded,
        ),
    },
    openapi_extra=IDEMPOTENCY_KEY_PARAMETER,
)
async def create_memory(
    body: MemoryCreateIn,
    principal: MemoriesWrite,
    container: AppContainer,
    request: Request,
    wait: bool = False,
) -> Response:
    """Store one memory as given (201); with `infer: true` or a `context`, extract from it as a job (202)."""
    await container.access.require(principal, body.user_id, "write")
    if body.extracts:

        def infer(key: str | None) -> Awaitable[tuple[Job, bool]]:
            return container.ingest.infer_memory(principal, body, idempotency_key=key)

        return await accept_job(container, principal, request, infer, wait=wait)

    async def run() -> tuple[int, Any]:
        memory = await container.memories.create(principal, body)
        return 201, memory_out(memory)

    return await replay_or_run(container, principal, request, run)


@router.get(
    "/memories/{memory_id:memory_id}",
    response_model=Envelope[MemoryOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, Forbidden, MemoryNotFound),
)
async def get_memory(memory_id: MemoryId, principal: MemoriesRead, container: AppContainer) -> Response:
    """One memory, current or not (see valid_to, superseded_by, deleted_at)."""
    return ok(memory_out(await reachable_memory(container, principal, memory_id, "read")))


@router.patch(
    "/memories/{memory_id:memory_id}",
    response_model=Envelope[MemoryOut],
    responses=error_responses(
        ValidationFailed,
        *AUTHENTICATED,
        MemoryNotFound,
        MemoryChanged,
        MemoryNotCurrent,
        *WITH_BODY,
        EmbeddingServiceError,
        Overloaded,
    ),
)
async def update_memory(
    memory_id: MemoryId, body: MemoryPatch, principal: MemoriesWrite, container: AppContainer
) -> Response:
    """Change a memory; new content supersedes it and returns the new version (with a new id)."""
    await reachable_memory(container, principal, memory_id, "write")
    return ok(memory_out(await container.memories.update(principal, memory_id, body)))


@router.delete(
    "/memories/{memory_id:memory_id}",
    response_model=Envelope[MemoryDeletedOut],
    responses=error_responses(
        ValidationFailed, *AUTHENTICATED, Forbidden, StepUpRequired, MemoryNotFound, MemoryChanged
    ),
)
async def delete_memory(
    memory_id: MemoryId, principal: MemoriesDelete, container: AppContainer, hard: bool = False
) -> Response:
    """Invalidate a memory (kept in history); `hard=true` erases every version of it (from a login
    session: after a recent second-factor check)."""
    if hard:
        require_recent_mfa(principal, container.settings.step_up_max_age_seconds)
    await reachable_memory(container, principal, memory_id, "delete")
    return ok(await container.memories.delete(principal, memory_id, hard=hard))


@router.get(
    "/memories/{memory_id:memory_id}/history",
    response_model=Envelope[MemoryHistoryOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, Forbidden, MemoryNotFound),
)
async def memory_history(memory_id: MemoryId, principal: MemoriesRead, container: AppContainer) -> Response:
    """Every version event of the memory, oldest first."""
    await reachable_memory(container, principal, memory_id, "read")
    versions = await container.memories.history(principal, memory_id)
    return ok({"memory_id": memory_id, "history": [version_out(v) for v in versions]})


@router.post(
    "/memories/batch",
    status_code=202,
    response_model=Envelope[JobOut | BatchAcceptedOut],
    responses={
        202: {
            "description": "Accepted: the import job (raw memories) or the batch of extraction jobs "
            "(conversations, `Location` is the batch)",
            "headers": JOB_ANSWERS[202]["headers"],
        },
        200: JOB_ANSWERS[200],
        **error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED, Conflict, *WITH_BODY, *QUEUEING),
    },
    openapi_extra=IDEMPOTENCY_KEY_PARAMETER,
)
async def batch_import(
    body: BatchIn, principal: MemoriesWrite, container: AppContainer, request: Request, wait: bool = False
) -> Response:
    """Import raw memories as one job, or extract from conversations (one job each, as a batch); 202.
    Once per Idempotency-Key, like every create."""
    users = [body.user_id] if body.user_id is not None else []
    users += [item.user_id for item in body.memories or ()]
    await container.access.require(principal, users, "write")
    if body.conversations is not None:

        async def run() -> tuple[int, Any]:
            batch, jobs = await container.ingest.process_conversations(principal, body)
            return 202, {"batch_id": batch.id, "job_count": len(jobs), "job_ids": [job.id for job in jobs]}

        status, data, replayed = await run_once(container, principal, request, run)
        headers = {"Location": f"/api/v1/batches/{data['batch_id']}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return ok(data, status=status, headers=headers)
    assert body.memories is not None
    limit = container.settings.batch_max_items
    if len(body.memories) > limit:
        raise ValidationFailed.field("memories", f"at most {limit} memories per batch")
    payload = {
        "memories": [m.model_dump(mode="json", exclude_unset=True) for m in body.memories],
        "options": {"skip_duplicates": body.options.skip_duplicates},
    }

    def enqueue(key: str | None) -> Awaitable[tuple[Job, bool]]:
        return container.jobs.enqueue(
            principal, BATCH_IMPORT, payload, total=len(body.memories or ()), idempotency_key=key
        )

    return await accept_job(container, principal, request, enqueue, wait=wait)


@router.get(
    "/users/{user_id}/memories",
    response_model=Envelope[MemoryPageOut],
    responses=error_responses(ValidationFailed, InvalidUserId, *AUTHENTICATED),
)
async def list_user_memories(
    user_id: UserIdPath,
    principal: MemoriesRead,
    container: AppContainer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_PAGE_OFFSET)] = 0,
    sort_by: Literal["created_at", "updated_at", "importance", "valid_from"] = "created_at",
    sort_order: Literal["asc", "desc"] = "desc",
    memory_type: Annotated[str | None, Query(alias="type", max_length=32)] = None,
    include_invalid: bool = False,
) -> Response:
    """A page of a user's memories."""
    await container.access.require(principal, user_id, "read")
    page = await container.memories.list_for_user(
        principal,
        user_id,
        memory_type=memory_type,
        include_invalid=include_invalid,
        sort_by=sort_by,
        descending=sort_order == "desc",
        limit=limit,
        offset=offset,
    )
    return ok(
        {
            "memories": [memory_out(m) for m in page.memories],
            "total": page.total,
            "limit": limit,
            "offset": offset,
        }
    )


@router.get(
    "/users/{user_id}/memories/stats",
    response_model=Envelope[MemoryStatsOut],
    responses=error_responses(InvalidUserId, *AUTHENTICATED),
)
async def user_memory_stats(user_id: UserIdPath, principal: ReportsRead, container: AppContainer) -> Response:
    """Counts and times of a user's memories (a report: audit:read or memories:read)."""
    if not await container.access.allows(principal, [user_id], "read", "audit"):
        await container.access.require(principal, user_id, "read")
    return ok({"user_id": user_id, **await container.memories.stats(principal, user_id)})


async def reachable_memory(
    container: AppContainer, principal: MemoriesRead, memory_id: str, action: str
) -> Memory:
    """The memory, when the principal may do `action` on it; one outside its reach is answered like a missing
    one (404), before anything is changed."""
    memory = await container.memories.get(principal, memory_id)
    await container.access.require_memory(principal, memory_id, memory.user_id, action)
    return memory
