"""Hybrid search: embed, query the index with filters, fuse, score, load from the system of record.

With a cache, the ranking (ids, scores, score details: no memory text) is kept per user and request until
the user's next write (search/caching.py); a cached ranking is loaded from the system of record again, so
what it returns is checked for validity at the moment of the request.

While the vector index cannot serve (health not ok, or it fails this query), search is degraded instead of
refused: keyword search (BM25) straight over the system of record, same scope, filters and `as_of`, scored
with the keyword list alone, and the outcome says so (`degraded` with the reason). Acknowledged writes are in
the system of record, so they are found; the outbox brings the index up to date when it returns. A degraded
ranking is not cached."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, replace
from typing import Any

from membank.errors import IndexUnavailable
from membank.models import Memory, Principal, Scope, from_epoch, iso, now_utc, to_epoch
from membank.observability.metrics import SEARCH_LATENCY, SEARCH_REQUESTS
from membank.observability.usage import record_usage
from membank.providers.embedders.ports import Embedder
from membank.search.caching import AnswerCache, request_digest
from membank.search.filters import parse_filter
from membank.search.index_health import IndexHealth
from membank.search.schemas import SearchIn
from membank.search.scoring import Scored, ScoringWeights, fuse
from membank.storage.filters import Condition, FilterNode, all_of
from membank.storage.ports import IndexResult, KeywordSearch, MemoryRepository, VectorIndex


@dataclass(slots=True)
class SearchHit:
    memory: Memory
    score: float
    details: dict[str, Any]


@dataclass(slots=True)
class SearchOutcome:
    """The hits, the timings (explain), and why the search was degraded (None when it was not)."""

    hits: list[SearchHit]
    timings: dict[str, Any]
    degraded: dict[str, Any] | None = None


def request_filter(request: SearchIn) -> FilterNode | None:
    """The filter tree of a request: its shorthand fields AND its `filters`."""
    nodes: list[FilterNode | None] = []
    if request.memory_types:
        nodes.append(Condition("memory_type", "in", tuple(request.memory_types)))
    if request.tags:
        nodes.append(Condition("tags", "in", tuple(request.tags)))
    if request.entities:
        nodes.append(Condition("entities", "in", tuple(request.entities)))
    if request.min_importance is not None:
        nodes.append(Condition("importance", "gte", request.min_importance))
    if request.max_importance is not None:
        nodes.append(Condition("importance", "lte", request.max_importance))
    if request.time_range is not None:
        if request.time_range.from_ is not None:
            nodes.append(Condition("created_at", "gte", to_epoch(request.time_range.from_)))
        if request.time_range.to is not None:
            nodes.append(Condition("created_at", "lte", to_epoch(request.time_range.to)))
    if request.filters is not None:
        nodes.append(parse_filter(request.filters))
    return all_of(*nodes)


class SearchService:
    def __init__(
        self,
        memories: MemoryRepository,
        index: VectorIndex,
        embedder: Embedder,
        *,
        candidates: int,
        weights: ScoringWeights,
        health: IndexHealth | None = None,
        cache: AnswerCache | None = None,
        fallback: KeywordSearch | None = None,
    ) -> None:
        self._memories = memories
        self._cache = cache
        self._health = health
        self._fallback = fallback
        self._index = index
        self._embedder = embedder
        self._candidates = candidates
        self.weights = weights

    @property
    def cache(self) -> AnswerCache | None:
        """The ranking cache (None: rankings are not cached)."""
        return self._cache

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What besides the request decides a ranking (part of its cache key; weights may change at run
        time, as the LOCOMO tuning sweeps do)."""
        return {
            "model": self._embedder.model_id,
            "candidates": self._candidates,
            "weights": dataclasses.asdict(self.weights),
        }

    async def search(
        self, principal: Principal, request: SearchIn, *, use_cache: bool = True
    ) -> SearchOutcome:
        """Memories of one user ranked by relevance, recency and importance; valid now unless as_of.
        While the index cannot serve: keyword search over the system of record, marked degraded (without a
        fallback: IndexUnavailable, 503 INDEX_UNAVAILABLE, with the reason)."""
        started = time.perf_counter()
        try:
            outcome = await self._search(principal, request, use_cache=use_cache, started=started)
        except Exception:  # a cancelled request (client gone) is not a failed search
            SEARCH_REQUESTS.labels("error").inc()
            raise
        SEARCH_REQUESTS.labels("ok").inc()
        record_usage("searches")
        SEARCH_LATENCY.observe(time.perf_counter() - started)
        return outcome

    async def _search(
        self, principal: Principal, request: SearchIn, *, use_cache: bool, started: float
    ) -> SearchOutcome:
        filter_node = request_filter(request)
        scope = Scope(principal.tenant_id, request.user_id, request.agent_id, request.session_id)
        moment = to_epoch(request.as_of) if request.as_of else to_epoch(now_utc())
        ticket = None
        if self._cache is not None:
            digest = request_digest(request, exclude={"explain"}, config=self.fingerprint)
            ticket, cached = await self._cache.lookup(
                principal.tenant_id, request.user_id, digest, use=use_cache
            )
            ranked = _ranking(cached)
            if ranked is not None:
                hits = await asyncio.to_thread(self._load, principal.tenant_id, ranked, moment)
                timings = {
                    "cached": True,
                    "embed_ms": 0.0,
                    "total_ms": round((time.perf_counter() - started) * 1000, 3),
                    "candidates": cached["candidates"],
                }
                return SearchOutcome(hits[: request.limit], timings)
        candidates = max(self._candidates, request.limit)
        try:
            if self._health is not None:
                self._health.require_available()
            vectors = await self._embedder.embed([request.query], query=True)
            embedded = time.perf_counter()
            result = await asyncio.to_thread(
                self._index.search,
                scope,
                vectors[0].tolist(),
                request.query,
                filter=filter_node,
                as_of=moment,
                limit=candidates,
            )
        except IndexUnavailable as unavailable:
            if self._fallback is None:
                raise
            return await self._degraded(principal, request, unavailable, scope, filter_node, moment, started)
        fused = fuse(result, self.weights, now=time.time(), limit=candidates)
        ranked = _kept(fused, request)
        counts = {"dense": len(result.dense), "keyword": len(result.keyword)}
        # An index that went bad during the search may have answered from partial data: not kept.
        index_ok = self._health is None or self._health.available
        if self._cache is not None and ticket is not None and index_ok:
            await self._cache.store(ticket, {"ranked": ranked, "candidates": counts})
        hits = await asyncio.to_thread(self._load, principal.tenant_id, ranked, moment)
        timings = {
            "cached": False,
            "embed_ms": round((embedded - started) * 1000, 3),
            "total_ms": round((time.perf_counter() - started) * 1000, 3),
            "candidates": counts,
        }
        return SearchOutcome(hits[: request.limit], timings)

    async def _degraded(
        self,
        principal: Principal,
        request: SearchIn,
        unavailable: IndexUnavailable,
        scope: Scope,
        filter_node: FilterNode | None,
        moment: float,
        started: float,
    ) -> SearchOutcome:
        assert self._fallback is not None
        candidates = max(self._candidates, request.limit)
        found = await asyncio.to_thread(
            self._fallback.search, scope, request.query, filter=filter_node, as_of=moment, limit=candidates
        )
        # The keyword list is all there is: it carries the whole relevance share.
        keyword_only = replace(self.weights, dense_weight=0.0, keyword_weight=1.0)
        fused = fuse(
            IndexResult(dense=[], keyword=found.hits), keyword_only, now=time.time(), limit=candidates
        )
        ranked = _kept(fused, request)
        hits = await asyncio.to_thread(self._load, principal.tenant_id, ranked, moment)
        details = unavailable.details
        degraded = {
            "reason": details.get("reason") or unavailable.message,
            "index_status": details.get("status", "error"),
            "cause": unavailable.cause,
            "since": details.get("since") or iso(now_utc()),
            "fallback": "keyword",
            "scanned": found.scanned,
            "complete": found.complete,
        }
        timings = {
            "total_ms": round((time.perf_counter() - started) * 1000, 3),
            "candidates": {"dense": 0, "keyword": len(found.hits)},
        }
        return SearchOutcome(hits[: request.limit], timings, degraded)

    def _load(self, tenant_id: str, ranked: list[Ranked], moment: float) -> list[SearchHit]:
        # The index is derived and may lag a write by a moment: the system of record has the last word.
        memories = self._memories.get_many(tenant_id, [memory_id for memory_id, _, _ in ranked])
        at = from_epoch(moment)
        hits: list[SearchHit] = []
        for memory_id, score, details in ranked:
            memory = memories.get(memory_id)
            if memory is None:
                continue
            if not memory.is_valid_at(at):
                continue
            hits.append(SearchHit(memory, score, details))
        return hits


Ranked = tuple[str, float, dict[str, Any]]


def _kept(fused: list[Scored], request: SearchIn) -> list[Ranked]:
    """The rows worth loading: twice the limit (some may be invalid by now), at or above the threshold."""
    return [(s.id, s.score, s.details()) for s in fused[: request.limit * 2] if s.score >= request.threshold]


def _ranking(cached: Any) -> list[Ranked] | None:
    """The ranking of a cached answer; None when there is none or it is not of the shape this code stores."""
    if not isinstance(cached, dict) or not isinstance(cached.get("candidates"), dict):
        return None
    ranked = cached.get("ranked")
    if not isinstance(ranked, list):
        return None
    out: list[Ranked] = []
    for row in ranked:
        if not (isinstance(row, list | tuple) and len(row) == 3):
            return None
        memory_id, score, details = row
        if not (isinstance(memory_id, str) and isinstance(score, float | int) and isinstance(details, dict)):
            return None
        out.append((memory_id, float(score), details))
    return out
