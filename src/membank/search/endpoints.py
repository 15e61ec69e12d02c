"""HTTP endpoint of search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from membank.api.deps import AppContainer, MemoriesRead
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.errors import (
    BackendUnavailable,
    EmbeddingServiceError,
    IndexUnavailable,
    InvalidUserId,
    MemBankError,
    Overloaded,
    ValidationFailed,
)
from membank.memories.schemas import memory_out
from membank.search.schemas import ContextOut, SearchIn, SearchOut, SynthesizeIn

_SEARCH_ERRORS: tuple[type[MemBankError], ...] = (
    ValidationFailed,
    InvalidUserId,
    *AUTHENTICATED,
    *WITH_BODY,
    EmbeddingServiceError,
    Overloaded,
    IndexUnavailable,
)

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.post(
    "/memories/search", response_model=Envelope[SearchOut], responses=error_responses(*_SEARCH_ERRORS)
)
async def search_memories(body: SearchIn, principal: MemoriesRead, container: AppContainer) -> Response:
    """Hybrid search of one user's memories; `explain=true` adds each score component. While the vector
    index cannot serve, keyword search over the system of record, with `degraded: true` and why."""
    if container.search is None:
        raise BackendUnavailable("this process has no vector index")
    await container.access.require(principal, body.user_id, "read")
    outcome = await container.search.search(principal, body)
    memories = []
    for hit in outcome.hits:
        item = memory_out(hit.memory)
        item["score"] = round(hit.score, 6)
        if body.explain:
            item["score_details"] = {**hit.details, "final": round(hit.score, 6)}
        memories.append(item)
    data: dict[str, Any] = {
        "memories": memories,
        "total": len(memories),
        "query": body.query,
        "degraded": outcome.degraded is not None,
        "degradation": outcome.degraded,
    }
    if body.explain:
        data["timings"] = outcome.timings
    return ok(data)


@router.post(
    "/memories/synthesize-context",
    response_model=Envelope[ContextOut],
    responses=error_responses(*_SEARCH_ERRORS),
)
async def synthesize_context(
    body: SynthesizeIn, principal: MemoriesRead, container: AppContainer
) -> Response:
    """A compact context for a query: cited memories, summarised (LLM) or structured by type (no LLM)."""
    if container.synthesis is None:
        raise BackendUnavailable("this process has no vector index")
    await container.access.require(principal, body.user_id, "read")
    return ok(await container.synthesis.synthesize(principal, body))
