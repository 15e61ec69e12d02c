"""Health and metrics endpoints (no auth: they reveal no tenant data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from membank.api.deps import AppContainer
from membank.api.envelope import Envelope, fail, ok
from membank.api.responses import error_responses
from membank.errors import BackendUnavailable, NotReady, Unhealthy
from membank.observability.metrics import REGISTRY
from membank.observability.schemas import HealthOut, LiveOut

router = APIRouter(tags=["health"])


@router.get(
    "/health", response_model=Envelope[HealthOut], responses=error_responses(Unhealthy, BackendUnavailable)
)
async def health(container: AppContainer) -> Response:
    """Overall status with each backend's state: 503 only when the system of record or the embedder is
    down; a degraded vector index or an unreachable Redis is reported (status "degraded", with the reason)
    with 200."""
    healthy, report = await container.health.report()
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
    healthy, report = await container.health.report()
    return ok(report) if healthy else fail(NotReady.status, NotReady.code, "a backend is unavailable", report)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus text exposition format"}},
)
async def metrics(container: AppContainer) -> Response:
    """Prometheus metrics. A backend that is down is reported by `membank_backend_up` (the scrape itself
    still answers)."""
    await container.health.refresh_gauges()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
