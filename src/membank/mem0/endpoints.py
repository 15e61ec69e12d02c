"""mem0's REST routes (v1 and the v2/v3 ones mem0ai's MemoryClient calls) on MemBank's services.

Same keys (also as mem0's `Authorization: Token <key>`), scopes, tenancy, rate limits and audit as the native
API; the answers are mem0's shapes, not MemBank's envelope, and errors keep MemBank's envelope with the status
mem0's clients map to their exceptions. Outside the OpenAPI document: its contract is mem0's
(docs/mem0-compatibility.md), and the native SDKs follow the native one."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from membank.api.deps import AppContainer, CurrentPrincipal, MemoriesDelete, MemoriesRead, MemoriesWrite
from membank.api.envelope import JSONResponse
from membank.bootstrap import Container
from membank.errors import BackendUnavailable, MemBankError, ValidationFailed
from membank.mem0.schemas import AddIn, Entities, ListIn, SearchIn, UpdateIn, entities
from membank.mem0.shapes import mem0_add_results, mem0_history_entry, mem0_memory
from membank.memories.endpoints import MemoryId, reachable_memory
from membank.memories.schemas import MemoryIn, MemoryPatch
from membank.models import Memory, Principal
from membank.models.bounds import MAX_PAGE_OFFSET
from membank.search.schemas import SearchIn as NativeSearchIn
from membank.storage.ports import MemoryPage

router = APIRouter(tags=["mem0"], include_in_schema=False)
log = structlog.get_logger(__name__)

EntityQuery = Annotated[str | None, Query(max_length=128)]
# How long an add with `infer` waits for its extraction job before answering that it is still pending.
EXTRACTION_WAIT_SECONDS = 60.0


@router.get("/v1/ping/")
async def ping(principal: CurrentPrincipal) -> Response:
    """mem0's clients check their key here first; the organisation and project are the key's tenant."""
    return JSONResponse(
        {
            "status": "ok",
            "message": "MemBank, mem0-compatible API",
            "org_id": principal.tenant_id,
            "project_id": principal.tenant_id,
            "user_email": None,
        }
    )


@router.post("/v1/memories/")
@router.post("/v3/memories/add/")
async def add_memories(body: AddIn, principal: MemoriesWrite, container: AppContainer) -> Response:
    """Extract memories from the messages (`infer`, mem0's default) or store each non-system message as it
    is; answers what was added, updated or deleted."""
    who = entities(body)
    await container.access.require(principal, who.user_id, "write")
    messages = body.message_list()
    if not body.infer:
        results = []
        for message in messages:
            if message.role == "system":
                continue
            memory = await container.memories.create(
                principal,
                MemoryIn(
                    user_id=who.user_id,
                    content=message.content,
                    metadata=body.metadata or {},
                    agent_id=who.agent_id,
                    session_id=who.session_id,
                ),
            )
            results.append({"id": memory.id, "memory": memory.content, "event": "ADD"})
        return JSONResponse({"results": results})
    job, _ = await container.ingest.extract_messages(
        principal,
        user_id=who.user_id,
        session_id=who.session_id,
        agent_id=who.agent_id,
        messages=messages,
        metadata=body.metadata,
    )
    job = await container.jobs.wait(principal, job.id, timeout=EXTRACTION_WAIT_SECONDS)
    if not job.status.finished:
        return JSONResponse(
            {
                "results": [],
                "status": "PENDING",
                "event_id": job.id,
                "message": f"still extracting: GET /api/v1/jobs/{job.id} tells when it is done",
            },
            status_code=202,
        )
    if job.result is None:
        raise MemBankError(
            f"the extraction job {job.id} failed ({job.error or 'no reason given'}); GET /api/v1/jobs/{job.id}",
            details={"job_id": job.id},
        )
    return JSONResponse({"results": mem0_add_results(job.result["actions"])})


@router.post("/v1/memories/search/")
@router.post("/v2/memories/search/")
@router.post("/v3/memories/search/")
async def search_memories(body: SearchIn, principal: MemoriesRead, container: AppContainer) -> Response:
    """MemBank's hybrid search of one user's memories (narrowed to an agent and a run when given)."""
    who = entities(body)
    if container.search is None:
        raise BackendUnavailable("this process has no vector index")
    await container.access.require(principal, who.user_id, "read")
    native = NativeSearchIn(
        user_id=who.user_id,
        query=body.query,
        limit=body.top_k or body.limit or 10,
        threshold=body.threshold or 0.0,
        agent_id=who.agent_id,
        session_id=who.session_id,
    )
    outcome = await container.search.search(principal, native)
    results = [{**mem0_memory(hit.memory), "score": round(hit.score, 6)} for hit in outcome.hits]
    return JSONResponse({"results": results})


@router.get("/v1/memories/")
async def list_memories_v1(
    principal: MemoriesRead,
    container: AppContainer,
    user_id: EntityQuery = None,
    agent_id: EntityQuery = None,
    run_id: EntityQuery = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 100,
) -> Response:
    """A page of a user's current memories, as v1 answers it: a list."""
    who = entities(None, {"user_id": user_id, "agent_id": agent_id, "run_id": run_id})
    memories, _ = await _page(container, principal, who, page, page_size)
    return JSONResponse([mem0_memory(m) for m in memories])


@router.post("/v2/memories/")
@router.post("/v3/memories/")
async def list_memories(
    body: ListIn,
    request: Request,
    principal: MemoriesRead,
    container: AppContainer,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 100,
) -> Response:
    """A page of a user's current memories with mem0's pagination (`count`, `next`, `previous`)."""
    who = entities(body)
    memories, total = await _page(container, principal, who, page, page_size)

    def link(to: int) -> str:
        return str(request.url.include_query_params(page=to, page_size=page_size))

    return JSONResponse(
        {
            "count": total,
            "next": link(page + 1) if page * page_size < total else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": [mem0_memory(m) for m in memories],
        }
    )


@router.get("/v1/memories/{memory_id}/")
async def get_memory(memory_id: MemoryId, principal: MemoriesRead, container: AppContainer) -> Response:
    return JSONResponse(mem0_memory(await reachable_memory(container, principal, memory_id, "read")))


@router.put("/v1/memories/{memory_id}/")
async def update_memory(
    memory_id: MemoryId, body: UpdateIn, principal: MemoriesWrite, container: AppContainer
) -> Response:
    """New text supersedes the memory (MemBank keeps the old version): the answer is the new version, with
    its new id; metadata alone changes the memory in place."""
    await reachable_memory(container, principal, memory_id, "write")
    changes = {"content": body.text, "metadata": body.metadata}
    patch = MemoryPatch(**{name: value for name, value in changes.items() if value is not None})
    return JSONResponse(mem0_memory(await container.memories.update(principal, memory_id, patch)))


@router.delete("/v1/memories/{memory_id}/")
async def delete_memory(memory_id: MemoryId, principal: MemoriesDelete, container: AppContainer) -> Response:
    """Invalidate the memory (kept in its history, like MemBank's own delete without `hard`)."""
    await reachable_memory(container, principal, memory_id, "delete")
    await container.memories.delete(principal, memory_id, hard=False)
    return JSONResponse({"message": "Memory deleted successfully!"})


@router.delete("/v1/memories/")
async def delete_memories(
    principal: MemoriesDelete,
    container: AppContainer,
    user_id: EntityQuery = None,
    agent_id: EntityQuery = None,
    run_id: EntityQuery = None,
) -> Response:
    """Invalidate every current memory of the user (of that agent and run, when given)."""
    who = entities(None, {"user_id": user_id, "agent_id": agent_id, "run_id": run_id})
    await container.access.require(principal, who.user_id, "delete")
    deleted = kept = 0
    while True:
        # Oldest first, so memories added meanwhile come after the ones already passed.
        page = await _current(container, principal, who.user_id, limit=100, offset=kept, newest_first=False)
        if not page.memories:
            break
        for memory in page.memories:
            if _belongs(memory, who):
                await container.memories.delete(principal, memory.id, hard=False)
                deleted += 1
            else:
                kept += 1
    log.info("mem0_delete_all", user_id=who.user_id, deleted=deleted)
    return JSONResponse({"message": "Memories deleted successfully!", "deleted": deleted})


@router.get("/v1/memories/{memory_id}/history/")
async def memory_history(memory_id: MemoryId, principal: MemoriesRead, container: AppContainer) -> Response:
    memory = await reachable_memory(container, principal, memory_id, "read")
    versions = await container.memories.history(principal, memory_id)
    return JSONResponse([mem0_history_entry(v, memory.user_id) for v in versions])


async def _page(
    container: Container, principal: Principal, who: Entities, page: int, page_size: int
) -> tuple[list[Memory], int]:
    if who.agent_id is not None or who.session_id is not None:
        raise ValidationFailed.field(
            "filters",
            "listing by agent_id or run_id is not supported (search and delete-all support them)",
        )
    offset = (page - 1) * page_size
    if offset > MAX_PAGE_OFFSET:
        raise ValidationFailed.field("page", f"page * page_size may reach at most {MAX_PAGE_OFFSET}")
    await container.access.require(principal, who.user_id, "read")
    listed = await _current(
        container, principal, who.user_id, limit=page_size, offset=offset, newest_first=True
    )
    return listed.memories, listed.total


async def _current(
    container: Container, principal: Principal, user_id: str, *, limit: int, offset: int, newest_first: bool
) -> MemoryPage:
    return await container.memories.list_for_user(
        principal,
        user_id,
        memory_type=None,
        include_invalid=False,
        sort_by="created_at",
        descending=newest_first,
        limit=limit,
        offset=offset,
    )


def _belongs(memory: Memory, who: Entities) -> bool:
    return (who.agent_id is None or memory.agent_id == who.agent_id) and (
        who.session_id is None or memory.session_id == who.session_id
    )
