"""Whether a principal may act on one end user's memories: the one place `own`/`team`/`all` is decided."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from membank.errors import Forbidden, JobNotFound, MemoryNotFound
from membank.models import Job, Principal
from membank.models.principal import REACHES, Permission
from membank.storage.ports.access import TeamMembership

__all__ = ["AccessPolicy", "covers", "job_user_ids"]


def covers(principal: Principal, wanted: Permission) -> bool:
    """Whether the principal holds `wanted` at its scope or wider (what it may grant to others)."""
    scope = principal.reach(wanted.resource, wanted.action)
    return scope is not None and REACHES.index(scope) >= REACHES.index(wanted.scope)


def job_user_ids(job: Job) -> set[str]:
    """The end users a job works for: the conversation's user, or each imported memory's."""
    payload: dict[str, Any] = job.payload or {}
    users = {payload["user_id"]} if isinstance(payload.get("user_id"), str) else set()
    for item in payload.get("memories") or ():
        if isinstance(item, dict) and isinstance(item.get("user_id"), str):
            users.add(item["user_id"])
    return users


class AccessPolicy:
    """Decides `resource:action` for one end user: scope `all` reaches every end user of the tenant, `team`
    the end users of the principal's teams (and those bound to it), `own` only those bound to it.

    Refusals name the user and the permission (403 INSUFFICIENT_PERMISSIONS), except for things addressed
    by id (a memory, a job), which answer 404 as if absent, so ids outside the reach cannot be probed."""

    def __init__(self, teams: TeamMembership) -> None:
        self._teams = teams

    def reaches(self, principal: Principal, user_id: str, action: str, resource: str = "memories") -> bool:
        """Blocking (a `team` scope reads the memberships): call from a worker thread or use `allows`."""
        scope = principal.reach(resource, action)
        if scope == "all":
            return True
        if scope is None:
            return False
        if user_id in (principal.user_ids or ()):
            return True
        if scope != "team" or not principal.team_ids:
            return False
        return bool(principal.team_ids & self._teams.teams_of(principal.tenant_id, user_id))

    async def allows(
        self, principal: Principal, user_ids: Iterable[str], action: str, resource: str = "memories"
    ) -> bool:
        """Whether every one of `user_ids` is within reach."""
        wanted = set(user_ids)
        if principal.reach(resource, action) == "all":  # the common case: no membership read, no thread hop
            return True
        return await asyncio.to_thread(
            lambda: all(self.reaches(principal, u, action, resource) for u in wanted)
        )

    async def require(
        self, principal: Principal, user_ids: str | Iterable[str], action: str, resource: str = "memories"
    ) -> None:
        """Forbidden naming the first end user outside the principal's reach."""
        wanted = [user_ids] if isinstance(user_ids, str) else sorted(set(user_ids))
        if await self.allows(principal, wanted, action, resource):
            return
        for user_id in wanted:
            if not await asyncio.to_thread(self.reaches, principal, user_id, action, resource):
                permission = f"{resource}:{action}"
                raise Forbidden(
                    f"this principal may not {action} the {resource} of user {user_id!r}",
                    details={"user_id": user_id, "permission": permission},
                )

    async def require_memory(self, principal: Principal, memory_id: str, user_id: str, action: str) -> None:
        """MemoryNotFound for a memory whose end user is outside the reach."""
        if not await self.allows(principal, [user_id], action):
            raise MemoryNotFound(f"memory {memory_id} not found")

    async def require_job(self, principal: Principal, job: Job) -> None:
        """JobNotFound for a job that works for an end user outside the principal's jobs:read reach."""
        if not await self.allows(principal, job_user_ids(job), "read", "jobs"):
            raise JobNotFound(f"job {job.id} not found")
