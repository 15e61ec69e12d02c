"""What this process has seen lately: its slowest routes (p95 over the last hour, from the HTTP
middleware's rolling window) and its LLM error and fallback rates (from the Prometheus counters, counted
since this diagnosis was set up, so each process, and each app of a test, sees its own)."""

from __future__ import annotations

from collections import defaultdict

from prometheus_client import Counter

from membank.diagnostics.findings import Detail, Finding
from membank.observability.embedding_latency import EmbeddingLatencyWindow
from membank.observability.metrics import EXTRACTIONS, LLM_REQUESTS
from membank.observability.route_latency import RouteLatencyWindow

WINDOW_SECONDS = 3600.0
# The diagnosis reads every memory's sync token by design: its own latency says nothing of the service's.
_OWN_ROUTES = ("/api/v1/admin/diagnostics",)


def check_slow_routes(window: RouteLatencyWindow, *, p95_above: float, top: int) -> Finding:
    ranked = [
        route
        for route in window.slowest(window_seconds=WINDOW_SECONDS, top=top + len(_OWN_ROUTES) * 2)
        if not route.route.startswith(_OWN_ROUTES)
    ][:top]
    slow = [r for r in ranked if r.p95_seconds > p95_above]
    detail: Detail = {
        "window_seconds": WINDOW_SECONDS,
        "p95_threshold_seconds": p95_above,
        "slow": len(slow),
        "routes": [
            f"{r.method} {r.route} p95={r.p95_seconds * 1000:.1f}ms max={r.max_seconds * 1000:.1f}ms "
            f"n={r.requests}"
            for r in ranked
        ],
    }
    if not slow:
        return Finding.ok("routes.slow", detail)
    return Finding(
        "routes.slow",
        "warn",
        detail,
        f"{len(slow)} routes answer slower than {p95_above}s at p95: see their traces "
        "(MEMBANK_OTLP_ENDPOINT) and membank_http_request_duration_seconds; check the embedder's load, the "
        "database and the index",
    )


EMBEDDING_RECENT_SECONDS = 600.0
EMBEDDING_BASELINE_SECONDS = 3000.0
EMBEDDING_MIN_BATCHES = 20


def check_embedding_latency(window: EmbeddingLatencyWindow, *, slowdown_ratio: float) -> Finding:
    """The embedder's time per text over the last 10 minutes against the 50 minutes before, batches of a
    like size compared with each other."""
    seen = window.compare(
        recent_seconds=EMBEDDING_RECENT_SECONDS,
        baseline_seconds=EMBEDDING_BASELINE_SECONDS,
        min_batches=EMBEDDING_MIN_BATCHES,
    )
    slowdown = seen.slowdown
    detail: Detail = {
        "batch_size_up_to": seen.batch_size,
        "recent_ms_per_text": None if seen.recent_seconds is None else round(seen.recent_seconds * 1000, 3),
        "baseline_ms_per_text": None
        if seen.baseline_seconds is None
        else round(seen.baseline_seconds * 1000, 3),
        "recent_batches": seen.recent_batches,
        "baseline_batches": seen.baseline_batches,
        "slowdown": None if slowdown is None else round(slowdown, 2),
        "slowdown_ratio": slowdown_ratio,
    }
    if slowdown is None or slowdown <= slowdown_ratio:
        return Finding.ok("embedding.latency", detail)
    return Finding(
        "embedding.latency",
        "warn",
        detail,
        f"the embedder is {slowdown:.1f}x slower per text than in the hour before (batches of up to"
        f" {seen.batch_size} texts): check the machine's CPU (other load, throttling),"
        " MEMBANK_EMBEDDER_THREADS and MEMBANK_WORKERS, or the remote embedding service's health",
    )


def _totals(counter: Counter, label: str) -> dict[str, float]:
    """The counter's total per value of `label` (summed over its other labels)."""
    totals: dict[str, float] = defaultdict(float)
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                totals[sample.labels[label]] += sample.value
    return totals


def _since(now: dict[str, float], then: dict[str, float]) -> dict[str, float]:
    return {key: value - then.get(key, 0.0) for key, value in now.items()}


class LlmRates:
    """LLM call outcomes and extraction fallbacks since this object was made."""

    def __init__(self, *, configured: bool, max_ratio: float, min_calls: int) -> None:
        self._configured = configured
        self._max_ratio = max_ratio
        self._min_calls = min_calls
        self._calls = _totals(LLM_REQUESTS, "outcome")
        self._extractions = _totals(EXTRACTIONS, "outcome")

    def finding(self) -> Finding:
        if not self._configured:
            return Finding.ok("llm.errors", {"configured": False})
        calls = _since(_totals(LLM_REQUESTS, "outcome"), self._calls)
        extractions = _since(_totals(EXTRACTIONS, "outcome"), self._extractions)
        made, errors = sum(calls.values()), calls.get("error", 0.0)
        extracted, fallbacks = sum(extractions.values()), extractions.get("fallback", 0.0)
        error_ratio = errors / made if made else 0.0
        fallback_ratio = fallbacks / extracted if extracted else 0.0
        detail: Detail = {
            "configured": True,
            "calls": int(made),
            "errors": int(errors),
            "error_ratio": round(error_ratio, 4),
            "extractions": int(extracted),
            "fallbacks": int(fallbacks),
            "fallback_ratio": round(fallback_ratio, 4),
            "max_ratio": self._max_ratio,
        }
        failing = made >= self._min_calls and error_ratio > self._max_ratio
        falling_back = extracted >= self._min_calls and fallback_ratio > self._max_ratio
        if failing or falling_back:
            return Finding(
                "llm.errors",
                "warn",
                detail,
                "the LLM fails often and extraction falls back to the heuristic tier: check "
                "MEMBANK_LLM_BASE_URL and the LLM server's health and load, MEMBANK_LLM_TIMEOUT_SECONDS and "
                "the model's answers (membank_llm_requests_total by outcome)",
            )
        return Finding.ok("llm.errors", detail)
