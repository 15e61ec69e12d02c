"""Context synthesis: the memories that matter for a query, handed back as a compact, cited context.

With an LLM configured, a short summary whose every sentence cites the memories it rests on (validated: a
sentence citing nothing, or a memory that was not given, sends the request to the structured form). Without
one, or when the LLM fails, a deterministic context grouped by type, newest first, with dates. Results are
cached per user and request under the user's revision, which every write bumps in its own transaction: any
write for that user makes older entries unreachable, in every process (search/caching.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from pydantic import BaseModel, Field, ValidationError

from membank.errors import LLMServiceError
from membank.models import MEMORY_TYPES, Memory, Principal, iso
from membank.observability.metrics import count_llm_tokens
from membank.providers.llms.ports import ChatMessage, ChatModel
from membank.search.caching import AnswerCache, request_digest
from membank.search.schemas import SearchIn, SynthesizeIn
from membank.search.service import SearchHit, SearchService
from membank.storage.ports import UsageRecord, UsageRepository

log = structlog.get_logger(__name__)

SYNTHESIS_PROMPT_VERSION = "synthesize-v1"
_GROUP_TITLES = {
    "personal": "Personal",
    "preference": "Preferences",
    "relationship": "Relationships",
    "factual": "Facts",
    "event": "Events",
    "episodic": "Experiences",
    "procedural": "How-tos",
    "semantic": "Knowledge",
}
assert set(_GROUP_TITLES) == set(MEMORY_TYPES)

_SYSTEM = (
    "You write a short context about a user for an AI assistant, using only the numbered memories given. "
    "Every sentence must cite the numbers of the memories it rests on. Do not add anything the memories do "
    "not say. Answer in JSON matching the schema."
)


class _Sentence(BaseModel):
    text: str = Field(min_length=1, max_length=1_000)
    citations: list[int] = Field(min_length=1, max_length=20)


class _Summary(BaseModel):
    sentences: list[_Sentence] = Field(min_length=1, max_length=20)


def _schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "sentences": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "citations": {"type": "array", "items": {"type": "integer"}},
                    },
                    "required": ["text", "citations"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["sentences"],
        "additionalProperties": False,
    }


def structured_context(user_id: str, query: str, memories: list[Memory]) -> str:
    """Memories grouped by type, newest first, each line dated and cited by its number."""
    if not memories:
        return f"Nothing is known about {user_id} that is relevant to: {query}"
    number = {m.id: i for i, m in enumerate(memories, start=1)}
    lines = [f"What is known about {user_id} relevant to: {query}"]
    for memory_type, title in _GROUP_TITLES.items():
        group = sorted(
            (m for m in memories if m.memory_type == memory_type), key=lambda m: m.valid_from, reverse=True
        )
        if not group:
            continue
        lines.append(f"{title}:")
        lines += [f"- {m.valid_from.date().isoformat()}: {m.content} [{number[m.id]}]" for m in group]
    return "\n".join(lines)


class SynthesisService:
    def __init__(
        self,
        search: SearchService,
        chat: ChatModel | None,
        *,
        cache: AnswerCache | None,
        usage: UsageRepository,
        max_tokens: int,
    ) -> None:
        self._cache = cache
        self._usage = usage
        self._search = search
        self._chat = chat
        self._max_tokens = max_tokens

    async def synthesize(self, principal: Principal, request: SynthesizeIn) -> dict[str, Any]:
        """The cited context for a query; served from the cache while the user has not changed."""
        ticket = None
        if self._cache is not None:
            config = {
                "search": self._search.fingerprint,
                "llm": self._chat.model if self._chat is not None else None,
                "prompt": SYNTHESIS_PROMPT_VERSION,
            }
            digest = request_digest(request, exclude={"use_cache"}, config=config)
            ticket, cached = await self._cache.lookup(
                principal.tenant_id, request.user_id, digest, use=request.use_cache
            )
            if isinstance(cached, dict) and isinstance(cached.get("context"), str):
                return {**cached, "cached": True}
        search = SearchIn(
            user_id=request.user_id,
            query=request.query,
            limit=request.max_memories,
            threshold=request.threshold,
            memory_types=request.memory_types,
            time_range=request.time_range,
        )
        outcome = await self._search.search(principal, search, use_cache=request.use_cache)
        result = await self._compose(principal, request, outcome.hits)
        result["degraded"] = outcome.degraded is not None
        result["degradation"] = outcome.degraded
        # A degraded answer is not kept: once the index is back, the same request deserves the full search.
        keep = outcome.degraded is None and "failed" not in result["synthesizer"]
        if self._cache is not None and ticket is not None and keep:
            await self._cache.store(ticket, result)
        return {**result, "cached": False}

    async def _compose(
        self, principal: Principal, request: SynthesizeIn, hits: list[SearchHit]
    ) -> dict[str, Any]:
        memories = [hit.memory for hit in hits]
        cited = [
            {
                "citation": i,
                "id": hit.memory.id,
                "content": hit.memory.content,
                "memory_type": hit.memory.memory_type,
                "valid_from": iso(hit.memory.valid_from),
                "score": round(hit.score, 6),
            }
            for i, hit in enumerate(hits, start=1)
        ]
        context, synthesizer = None, "structured"
        if self._chat is not None and memories:
            try:
                context = await self._summarise(principal, request.query, memories)
                synthesizer = f"llm:{self._chat.model}"
            except (LLMServiceError, ValidationError, ValueError) as exc:
                reason = exc.message if isinstance(exc, LLMServiceError) else "invalid summary"
                log.warning("synthesis.fallback", reason=reason)
                synthesizer = f"structured (llm failed: {reason})"
        if context is None:
            context = structured_context(request.user_id, request.query, memories)
        return {
            "context": context,
            "memories": cited,
            "synthesizer": synthesizer,
            "prompt_version": SYNTHESIS_PROMPT_VERSION if synthesizer.startswith("llm:") else None,
            "query": request.query,
            "user_id": request.user_id,
        }

    async def _summarise(self, principal: Principal, query: str, memories: list[Memory]) -> str:
        assert self._chat is not None
        numbered = "\n".join(
            f"[{i}] ({m.valid_from.date().isoformat()}, {m.memory_type}) {m.content}"
            for i, m in enumerate(memories, start=1)
        )
        messages: list[ChatMessage] = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": f"Query: {query}\n\nMemories:\n{numbered}"},
        ]
        completion = await self._chat.complete_json(
            messages, schema=_schema(), schema_name="context_summary", max_tokens=self._max_tokens
        )
        usage = completion.usage
        count_llm_tokens(
            "synthesis", usage.model, prompt=usage.prompt_tokens, completion=usage.completion_tokens
        )
        await asyncio.to_thread(
            self._usage.record,
            UsageRecord(
                tenant_id=principal.tenant_id,
                job_id=None,
                purpose="synthesis",
                model=completion.usage.model,
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
                created_at=time.time(),
            ),
        )
        summary = _Summary.model_validate_json(completion.content)
        sentences = []
        for sentence in summary.sentences:
            if not all(1 <= n <= len(memories) for n in sentence.citations):
                raise ValueError("a sentence cites a memory that was not given")
            marks = "".join(f"[{n}]" for n in dict.fromkeys(sentence.citations))
            sentences.append(f"{sentence.text.strip()} {marks}")
        return " ".join(sentences)
