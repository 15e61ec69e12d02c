"""client.jobs, client.batches and client.users (end users' conversation sessions)."""

from __future__ import annotations

from membank.client.endpoint import Parts, Resource, TransportT, endpoint
from membank.client.models import Batch, Job, JobItems, Session, SessionPage

__all__ = ["Batches", "Jobs", "Users"]


class Jobs(Resource[TransportT]):
    @endpoint("GET", "/api/v1/jobs/{job_id}", Job.model_validate)
    def get(self, job_id: str) -> Parts:
        """A job's state (`wait_for` polls it until it is finished)."""
        return Parts(path={"job_id": job_id})

    @endpoint("GET", "/api/v1/jobs/{job_id}/items", JobItems.model_validate)
    def items(self, job_id: str, *, limit: int | None = None, offset: int | None = None) -> Parts:
        """What a job did, item by item, one page."""
        return Parts(path={"job_id": job_id}, query={"limit": limit, "offset": offset})


class Batches(Resource[TransportT]):
    @endpoint("GET", "/api/v1/batches/{batch_id}", Batch.model_validate)
    def get(self, batch_id: str) -> Parts:
        """A batch of conversation jobs: its status, its jobs, the counts of what they did."""
        return Parts(path={"batch_id": batch_id})


class Users(Resource[TransportT]):
    @endpoint("GET", "/api/v1/users/{user_id}/sessions", SessionPage.model_validate)
    def sessions(self, user_id: str, *, limit: int | None = None, offset: int | None = None) -> Parts:
        """One page of a user's conversation sessions."""
        return Parts(path={"user_id": user_id}, query={"limit": limit, "offset": offset})

    @endpoint("GET", "/api/v1/users/{user_id}/sessions/{session_id}", Session.model_validate)
    def session(self, user_id: str, session_id: str) -> Parts:
        """One conversation session: its summary, key facts and recent messages."""
        return Parts(path={"user_id": user_id, "session_id": session_id})
