"""HTTP endpoints of jobs: a job, its items, and accepting work as a job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from membank.api.deps import AppContainer, JobsRead
from membank.api.envelope import Envelope, ok
from membank.api.idempotency import idempotency_key, run_once
from membank.api.responses import AUTHENTICATED, error_responses
from membank.auth.access import job_user_ids
from membank.bootstrap import Container
from membank.errors import Forbidden, JobNotFound, ValidationFailed
from membank.jobs.schemas import MAX_ITEMS_PAGE, JobItemsPage, JobOut
from membank.jobs.service import job_out
from membank.models import Job, Principal
from membank.models.bounds import MAX_PAGE_OFFSET

router = APIRouter(prefix="/api/v1", tags=["jobs"])

_LOCATION = {"Location": {"description": "The job's URL", "schema": {"type": "string"}}}

JobId = Annotated[str, Path(max_length=64)]

# The answers of an operation that queues a job (`accept_job`), besides its own 202 model when it has one.
JOB_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {
        "model": Envelope[JobOut],
        "description": "Accepted: the queued job (with `wait=true`: the job still running after the wait)",
        "headers": _LOCATION,
    },
    200: {
        "model": Envelope[JobOut],
        "description": "With `wait=true`: the finished job (completed or dead)",
        "headers": _LOCATION,
    },
}


async def _job_items_reader(principal: JobsRead) -> Principal:
    if not principal.can("memories:read"):
        raise Forbidden("this key lacks the 'memories:read' scope: a job's items carry memory content")
    return principal


JobItemsRead = Annotated[Principal, Depends(_job_items_reader)]


@router.get(
    "/jobs/{job_id}",
    response_model=Envelope[JobOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, JobNotFound),
)
async def get_job(job_id: JobId, principal: JobsRead, container: AppContainer) -> Response:
    """A job's status, progress, result or error. Without memories:read, the parts of the result that
    carry memory text are left out and named in `withheld`."""
    job = await container.jobs.get(principal, job_id)
    await container.access.require_job(principal, job)
    content = await container.access.allows(principal, job_user_ids(job), "read")
    return ok(job_out(job, content=content))


@router.get(
    "/jobs/{job_id}/items",
    response_model=Envelope[JobItemsPage],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, JobNotFound),
)
async def get_job_items(
    job_id: JobId,
    principal: JobItemsRead,
    container: AppContainer,
    limit: Annotated[int, Query(ge=1, le=MAX_ITEMS_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_PAGE_OFFSET)] = 0,
) -> Response:
    """A page of a job's items in input order: each memory of a batch import with its outcome (created,
    skipped, failed), or each action of a conversation job. Needs jobs:read and memories:read."""
    job = await container.jobs.get(principal, job_id)
    await container.access.require_job(principal, job)
    await container.access.require(principal, job_user_ids(job), "read")
    page = await container.jobs.items(principal, job_id, limit=limit, offset=offset)
    return ok(page.model_dump(mode="json"))


Enqueue = Callable[[str | None], Awaitable[tuple[Job, bool]]]


async def accept_job(
    container: Container,
    principal: Principal,
    request: Request,
    enqueue: Enqueue,
    *,
    wait: bool,
    timeout: float = 60.0,
) -> Response:
    """202 with the queued job and its Location; with `wait`, 200 with the job once it finished.

    `enqueue` (given the Idempotency-Key) runs once per key, like a synchronous create: the same key and body
    again replays the first answer with `Idempotent-Replayed: true`, another body is a 409 CONFLICT. The
    answer stored for a key is the 202 acceptance, stored before any wait, so a retry arriving while the
    first request still waits already finds it; a replay with `wait` waits on that same job.
    """
    created = True
    content = principal.can("memories:read")

    async def run() -> tuple[int, Any]:
        nonlocal created
        job, created = await enqueue(idempotency_key(request))
        return 202, job_out(job, content=content)

    status, data, replayed = await run_once(container, principal, request, run)
    job_id = str(data["id"])
    headers = {"Location": f"/api/v1/jobs/{job_id}"}
    if replayed or not created:  # not created: the jobs table already held a job under this key
        headers["Idempotent-Replayed"] = "true"
    if wait:
        job = await container.jobs.wait(principal, job_id, timeout=timeout)
        return ok(job_out(job, content=content), status=200 if job.status.finished else 202, headers=headers)
    return ok(data, status=status, headers=headers)
