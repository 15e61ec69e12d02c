"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from membank import __version__
from membank.api.bounds import JsonBoundsMiddleware
from membank.api.client_ip import ClientIpMiddleware, TrustedProxies
from membank.api.errors import install_error_handlers
from membank.api.ip_gate import IpGateMiddleware
from membank.api.middleware import BodyLimits, RequestContextMiddleware
from membank.api.openapi import install_openapi
from membank.api.rate_limits import RateLimitHeadersMiddleware
from membank.api.security_headers import SecurityHeadersMiddleware, install_cors
from membank.bootstrap import Container, build_container
from membank.config import Settings
from membank.errors import BackendUnavailable
from membank.jobs.worker import finish_within
from membank.models.bounds import JsonBounds, use_bounds
from membank.observability.logging import configure_logging_from
from membank.observability.tracing import configure_tracing_from
from membank.usage.endpoints import router as usage_router

log = structlog.get_logger(__name__)


_UNTRACED = frozenset({"/health/live", "/health/ready", "/metrics"})


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED


def create_app(settings: Settings, *, container: Container | None = None) -> FastAPI:
    """The API; background work (index sync, in-process workers) lives and dies with its lifespan."""
    configure_logging_from(settings)
    configure_tracing_from(settings)
    bounds = JsonBounds.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The background tasks below (workers re-validating job payloads) inherit this app's bounds; the
        # lifespan's context ends with the app.
        use_bounds(bounds)
        own = container if container is not None else await asyncio.to_thread(build_container, settings)
        app.state.container = own
        await own.start()
        if own.index_maintainer is not None:
            # Never fails start-up: a broken index is reported and rebuilt in the background.
            await asyncio.to_thread(own.index_maintainer.verify)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if own.index_sync is not None:
            tasks.append(asyncio.create_task(own.index_sync.run(stop)))
        if own.index_maintainer is not None:
            tasks.append(asyncio.create_task(own.index_maintainer.run(stop)))
        tasks.append(asyncio.create_task(own.key_usage.run(stop, settings.key_usage_flush_seconds)))
        tasks.append(asyncio.create_task(own.usage_meter.run(stop, settings.usage_flush_seconds)))
        tasks.append(asyncio.create_task(own.capacity.run(stop, settings.capacity_snapshot_seconds)))
        if settings.diagnostics_auto_repair:
            tasks.append(asyncio.create_task(own.diagnostics.run_auto_repair(stop)))
        if settings.run_workers:
            tasks += [asyncio.create_task(own.new_worker().run(stop)) for _ in range(settings.workers)]
        log.info(
            "membank_ready", version=__version__, workers=settings.workers if settings.run_workers else 0
        )
        try:
            async with mcp.running():
                yield
        finally:
            stop.set()
            await finish_within(tasks, settings.shutdown_grace_seconds)
            if own.index_sync is not None:
                try:
                    await asyncio.to_thread(own.index_sync.apply_due)
                except BackendUnavailable as exc:  # what is left stays in the outbox for the next start
                    log.warning("outbox_drain_skipped", error=exc.message)
            if container is None:
                await own.aclose()
            # The app object may outlive its lifespan (a test client, a reload); what it ran (the embedder's
            # model, the index, the store) must not.
            del app.state.container

    # Swagger UI and ReDoc with their assets served from the installed fastapi-offline package (no CDN).
    app = FastAPIOffline(
        title="MemBank",
        version=__version__,
        description="Long-term memory for AI agents. Every answer is an envelope: "
        '`{"success": true, "data", "message", "timestamp"}`, or on failure '
        '`{"success": false, "error": {"code", "message", "details"}, "timestamp"}`.',
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
        static_url="/docs-assets",
        # FastAPI's native OpenTelemetry support opens each request's server span (the caller's traceparent
        # its parent; dependency and endpoint spans below it) on the provider that observability.tracing
        # installs. Not its logs (exception messages unredacted) nor its metrics (ours are Prometheus'), and
        # no trace per probe or scrape.
        telemetry={"logs": False, "metrics": False, "exclude": _untraced},
    )
    from membank.accounts.endpoints import router as accounts_router
    from membank.accounts.policy_endpoints import router as policy_router
    from membank.auth.endpoints import router as auth_router
    from membank.auth.endpoints import well_known as well_known_router
    from membank.auth.ip_rule_endpoints import router as ip_rules_router
    from membank.auth.rbac_endpoints import router as access_router
    from membank.diagnostics.endpoints import router as diagnostics_router
    from membank.ingest.endpoints import router as ingest_router
    from membank.jobs.endpoints import router as jobs_router
    from membank.keys.endpoints import router as keys_router
    from membank.mcp_server.endpoints import install_mcp
    from membank.mem0.endpoints import router as mem0_router
    from membank.memories.endpoints import router as memories_router
    from membank.observability.endpoints import router as health_router
    from membank.search.endpoints import router as search_router

    app.include_router(ingest_router)
    app.include_router(search_router)
    app.include_router(memories_router)
    app.include_router(jobs_router)
    app.include_router(keys_router)
    app.include_router(health_router)
    app.include_router(auth_router)
    app.include_router(accounts_router)
    app.include_router(policy_router)
    app.include_router(well_known_router)
    app.include_router(access_router)
    app.include_router(ip_rules_router)
    app.include_router(usage_router)
    app.include_router(diagnostics_router)
    app.include_router(mem0_router)
    mcp = install_mcp(app)
    install_error_handlers(app)
    app.add_middleware(JsonBoundsMiddleware, bounds=bounds)  # inside the size limit and the request id
    app.add_middleware(RateLimitHeadersMiddleware)
    body_limits = BodyLimits(default=settings.max_request_bytes, bulk=settings.max_bulk_request_bytes)
    install_openapi(app, metadata_depth=settings.max_metadata_depth, body_limits=body_limits)
    # Outermost last. A request meets: the client address resolved behind trusted proxies, the security
    # headers and CORS (on every answer, refusals included), the request id and body limits, then the
    # global IP rules (before any route, authentication included).
    app.add_middleware(IpGateMiddleware)
    app.add_middleware(RequestContextMiddleware, limits=body_limits)
    install_cors(app, settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ClientIpMiddleware, proxies=TrustedProxies(settings.trusted_proxies))
    return app
