"""HTTP endpoint of jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from membank.api.deps import AppContainer, JobsRead
from membank.api.envelope import ok
from membank.bootstrap import Container
from membank.jobs.service import job_out
from membank.models import Job, Principal

router = APIRouter(prefix="/api/v1", tags=["jobs"])


@router.get("/jobs/{job_id}")
async def get_job(
    job_id: Annotated[str, Path(max_length=64)], principal: JobsRead, container: AppContainer
) -> Response:
    """A job's status, progress, result or error."""
    return ok(job_out(await container.jobs.get(principal, job_id)))


async def job_accepted(
    container: Container, principal: Principal, job: Job, *, created: bool, wait: bool, timeout: float = 60.0
) -> Response:
    """202 with the queued job and its Location; with `wait`, 200 with the job once it finished."""
    if wait:
        job = await container.jobs.wait(principal, job.id, timeout=timeout)
    status = 200 if wait and job.status.finished else 202
    headers = {"Location": f"/api/v1/jobs/{job.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return ok(job_out(job), status=status, headers=headers)
