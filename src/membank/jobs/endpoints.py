"""HTTP endpoint of jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from membank.api.deps import AppContainer, JobsRead
from membank.api.envelope import ok
from membank.jobs.service import job_out

router = APIRouter(prefix="/api/v1", tags=["jobs"])


@router.get("/jobs/{job_id}")
async def get_job(
    job_id: Annotated[str, Path(max_length=64)], principal: JobsRead, container: AppContainer
) -> Response:
    """A job's status, progress, result or error."""
    return ok(job_out(await container.jobs.get(principal, job_id)))
