"""Health and metrics endpoints (no auth: they reveal no tenant data)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from membank import __version__
from membank.api.deps import AppContainer
from membank.api.envelope import Envelope, fail, ok
from membank.api.responses import error_responses
from membank.bootstrap import Container
from membank.errors import BackendUnavailable, NotReady, Unhealthy
from membank.observability.health import CheckFn, run_checks
from membank.observability.metrics import JOBS, OUTBOX_PENDING, REGISTRY
from membank.observability.schemas import HealthOut, LiveOut

router = APIRouter(tags=["health"])


def _checks(container: Container) -> dict[str, CheckFn]:
    return {"store": container.store.ping}


async def _report(container: Container) -> tuple[bool, dict[str, object]]:
    """(serving, report). Serving needs the system of record and the embedder (writes are acknowledged
    with them); the vector index is derived, so a degraded or rebuilding index makes the status
    "degraded" with the reason, not a 503."""
    healthy, components = await run_checks(_checks(container))
    derived_ok = True
    if container.index_maintainer is not None and container.index_health is not None:
        await asyncio.to_thread(container.index_maintainer.probe)
        components["vector_index"] = container.index_health.report()
        derived_ok = container.index_health.available
    try:
        await asyncio.wait_for(container.embedder.embed(["health check"]), timeout=5.0)
        components["embedder"] = {"status": "ok", "model": container.embedder.model_id}
    except Exception as exc:  # a health check reports any failure rather than raising
        healthy = False
        components["embedder"] = {"status": "error", "error": type(exc).__name__}
    outbox = await asyncio.to_thread(container.store.outbox.pending)
    return healthy, {
        "status": "ok" if healthy and derived_ok else "degraded",
        "version": __version__,
        "components": components,
        "outbox_pending": outbox,
    }


@router.get(
    "/health", response_model=Envelope[HealthOut], responses=error_responses(Unhealthy, BackendUnavailable)
)
async def health(container: AppContainer) -> Response:
    """Overall status with each backend's state: 503 only when the system of record or the embedder is
    down; a degraded vector index is reported (status "degraded", with the reason) with 200."""
    healthy, report = await _report(container)
    return (
        ok(report) if healthy else fail(Unhealthy.status, Unhealthy.code, "a backend is unavailable", report)
    )


@router.get("/health/live", response_model=Envelope[LiveOut])
async def live() -> Response:
    """The process is up."""
    return ok({"status": "ok"})


@router.get(
    "/health/ready",
    response_model=Envelope[HealthOut],
    responses=error_responses(NotReady, BackendUnavailable),
)
async def ready(container: AppContainer) -> Response:
    """Ready to serve: the system of record and the embedder answer (the index may be degraded)."""
    healthy, report = await _report(container)
    return ok(report) if healthy else fail(NotReady.status, NotReady.code, "a backend is unavailable", report)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"description": "Prometheus text exposition format"},
        **error_responses(BackendUnavailable),
    },
)
async def metrics(container: AppContainer) -> Response:
    """Prometheus metrics."""
    OUTBOX_PENDING.set(await asyncio.to_thread(container.store.outbox.pending))
    for status, count in (await asyncio.to_thread(container.store.jobs.counts)).items():
        JOBS.labels(status).set(count)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
