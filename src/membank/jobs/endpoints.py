"""HTTP endpoint of jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from membank.api.deps import AppContainer, JobsRead
from membank.api.envelope import Envelope, ok
from membank.api.idempotency import idempotency_key, run_once
from membank.api.responses import AUTHENTICATED, error_responses
from membank.bootstrap import Container
from membank.errors import JobNotFound, ValidationFailed
from membank.jobs.schemas import JobOut
from membank.jobs.service import job_out
from membank.models import Job, Principal

router = APIRouter(prefix="/api/v1", tags=["jobs"])

_LOCATION = {"Location": {"description": "The job's URL", "schema": {"type": "string"}}}

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


@router.get(
    "/jobs/{job_id}",
    response_model=Envelope[JobOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, JobNotFound),
)
async def get_job(
    job_id: Annotated[str, Path(max_length=64)], principal: JobsRead, container: AppContainer
) -> Response:
    """A job's status, progress, result or error."""
    return ok(job_out(await container.jobs.get(principal, job_id)))


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

    async def run() -> tuple[int, Any]:
        nonlocal created
        job, created = await enqueue(idempotency_key(request))
        return 202, job_out(job)

    status, data, replayed = await run_once(container, principal, request, run)
    job_id = str(data["id"])
    headers = {"Location": f"/api/v1/jobs/{job_id}"}
    if replayed or not created:  # not created: the jobs table already held a job under this key
        headers["Idempotent-Replayed"] = "true"
    if wait:
        job = await container.jobs.wait(principal, job_id, timeout=timeout)
        return ok(job_out(job), status=200 if job.status.finished else 202, headers=headers)
    return ok(data, status=status, headers=headers)
