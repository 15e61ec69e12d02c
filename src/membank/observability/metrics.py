"""Prometheus metrics of the service."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import ParamSpec, TypeVar

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from membank.cache.stats import LAYERS, process_totals
from membank.observability.embedding_latency import EMBEDDING_LATENCY
from membank.observability.usage import record_usage
from membank.providers.embedders.batching import observe_batches

log = structlog.get_logger(__name__)
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "membank_http_requests_total",
    "HTTP requests by method, route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "membank_http_request_duration_seconds",
    "HTTP request latency by method and route.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
P = ParamSpec("P")
T = TypeVar("T")

OUTBOX_PENDING = Gauge(
    "membank_outbox_pending", "Outbox items not yet applied to the indexes.", registry=REGISTRY
)
OUTBOX_LAG = Gauge(
    "membank_outbox_lag_seconds",
    "Age of the oldest outbox item not yet applied (0 when the indexes are up to date).",
    registry=REGISTRY,
)
JOBS = Gauge("membank_jobs", "Jobs by kind and status.", ["kind", "status"], registry=REGISTRY)
JOB_OLDEST_AGE = Gauge(
    "membank_job_oldest_age_seconds",
    "Age of the oldest unfinished job (queued, processing, failed and waiting for its retry) by kind and"
    " status, since it was queued.",
    ["kind", "status"],
    registry=REGISTRY,
)
BACKEND_UP = Gauge(
    "membank_backend_up",
    "1 when the backend answers as /health reports it (store, vector_index, redis, embedder), else 0.",
    ["backend"],
    registry=REGISTRY,
)
DB_POOL_CONNECTIONS = Gauge(
    "membank_db_pool_connections",
    "Connections of this process's database pool by state (checked_out, idle, overflow).",
    ["state"],
    registry=REGISTRY,
)
DB_POOL_MAX = Gauge(
    "membank_db_pool_max_connections",
    "Most connections this process's pool opens (pool size plus overflow).",
    registry=REGISTRY,
)
DISK_FREE = Gauge(
    "membank_disk_free_bytes", "Free bytes on the file system of the data directory.", registry=REGISTRY
)
DISK_SIZE = Gauge(
    "membank_disk_size_bytes", "Size of the file system of the data directory.", registry=REGISTRY
)
EMBEDDING_BATCH_SIZE = Histogram(
    "membank_embedding_batch_size",
    "Texts per embedding model (or API) call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
EMBEDDING_BATCH_LATENCY = Histogram(
    "membank_embedding_batch_duration_seconds",
    "Duration of one embedding model (or API) call, by outcome (ok, error).",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
MEMORY_OPERATION_LATENCY = Histogram(
    "membank_memory_operation_duration_seconds",
    "Duration of memory operations inside the service (create, get, update, delete, history, list, stats),"
    " failures included.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
# Memory writes by where they came from (source: api, batch, conversation). A new version that supersedes
# another is one created memory and one updated memory (the version it closes).
MEMORIES_CREATED = Counter(
    "membank_memories_created_total",
    "Memories written (new facts and new versions), by source.",
    ["source"],
    registry=REGISTRY,
)
MEMORIES_UPDATED = Counter(
    "membank_memories_updated_total",
    "Existing memories changed: edited in place, closed by a new version or retired from a slot, by source.",
    ["source"],
    registry=REGISTRY,
)
MEMORIES_DELETED = Counter(
    "membank_memories_deleted_total",
    "Memories deleted through the API, by kind (soft: kept in history; hard: the lineage erased).",
    ["kind"],
    registry=REGISTRY,
)
SEARCH_REQUESTS = Counter(
    "membank_search_requests_total", "Searches by outcome (ok, error).", ["outcome"], registry=REGISTRY
)
SEARCH_LATENCY = Histogram(
    "membank_search_latency_seconds",
    "Search latency inside the service (embedding, index, keyword and ranking; caches included).",
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
EXTRACTIONS = Counter(
    "membank_extractions_total",
    "Conversation extractions by the tier asked first, and whether it answered (ok) or the next tier took over"
    " (fallback).",
    ["extractor", "outcome"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "membank_llm_tokens_used_total",
    "LLM tokens spent, by purpose (extraction, synthesis), model and kind (prompt, completion).",
    ["purpose", "model", "kind"],
    registry=REGISTRY,
)
LLM_REQUESTS = Counter(
    "membank_llm_requests_total",
    "LLM calls (after the client's own retries) by purpose, configured model and outcome (ok, error).",
    ["purpose", "model", "outcome"],
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "membank_llm_request_duration_seconds",
    "LLM call latency, retries included, by purpose and configured model.",
    ["purpose", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
    registry=REGISTRY,
)
LLM_COST = Counter(
    "membank_llm_cost_total",
    "LLM spend in US dollars by purpose and answering model, from the MEMBANK_LLM_PRICES table.",
    ["purpose", "model"],
    registry=REGISTRY,
)
AUDIT_EVENTS = Counter(
    "membank_audit_events_total",
    "Security events written to the append-only log, by kind and outcome.",
    ["kind", "outcome"],
    registry=REGISTRY,
)


class CacheCollector(Collector):
    """Hits and misses of every cache of the process by cache (embeddings, search, context) and layer (l1,
    l2), the values refused as corrupt, and the hit ratio: lookups answered by either layer over all."""

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "membank_cache_hits", "Cache hits by cache and layer.", labels=["cache", "layer"]
        )
        misses = CounterMetricFamily(
            "membank_cache_misses", "Cache misses by cache and layer.", labels=["cache", "layer"]
        )
        corrupt = CounterMetricFamily(
            "membank_cache_corrupt",
            "Shared-cache values refused (not ours, truncated), counted as misses.",
            labels=["cache"],
        )
        ratio = GaugeMetricFamily(
            "membank_cache_hit_ratio",
            "Lookups answered by L1 or L2 over all lookups, by cache.",
            labels=["cache"],
        )
        for name, stats in sorted(process_totals().items()):
            for layer in LAYERS:
                hits.add_metric([name, layer], stats.hits[layer])
                misses.add_metric([name, layer], stats.misses[layer])
            corrupt.add_metric([name], stats.corrupt)
            if stats.hit_ratio is not None:
                ratio.add_metric([name], stats.hit_ratio)
        yield from (hits, misses, corrupt, ratio)


REGISTRY.register(CacheCollector())
# process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds...: the memory and CPU alerts.
ProcessCollector(registry=REGISTRY)


def _observe_embedding_batch(size: int, seconds: float, ok: bool) -> None:
    if ok:
        EMBEDDING_BATCH_SIZE.observe(size)
        EMBEDDING_LATENCY.record(size, seconds)
    EMBEDDING_BATCH_LATENCY.labels("ok" if ok else "error").observe(seconds)


observe_batches(_observe_embedding_batch)


def timed_operation(
    operation: str,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Record the duration of an async memory operation in membank_memory_operation_duration_seconds."""
    histogram = MEMORY_OPERATION_LATENCY.labels(operation)

    def decorate(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(method)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed

    return decorate


def serve_metrics(host: str, port: int) -> None:
    """/metrics of this process on its own port, from a daemon thread (a `membank worker` has no API)."""
    start_http_server(port, addr=host, registry=REGISTRY)
    log.info("metrics_serving", host=host, port=port)


def count_memories_written(source: str, amount: int = 1) -> None:
    """Memories written (new facts and new versions), in /metrics by source and in the usage of the tenant
    of the work under way (facts from conversations apart)."""
    MEMORIES_CREATED.labels(source).inc(amount)
    record_usage("conversation_facts" if source == "conversation" else "memory_writes", amount)


def count_new_version(source: str) -> None:
    """A version that supersedes another: one memory written, and the one it closes changed."""
    count_memories_written(source)
    MEMORIES_UPDATED.labels(source).inc()


def count_llm_tokens(purpose: str, model: str, *, prompt: int, completion: int) -> None:
    LLM_TOKENS.labels(purpose, model, "prompt").inc(prompt)
    LLM_TOKENS.labels(purpose, model, "completion").inc(completion)
