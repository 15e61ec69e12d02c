"""Prometheus metrics of the service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
OUTBOX_PENDING = Gauge(
    "membank_outbox_pending", "Outbox items not yet applied to the indexes.", registry=REGISTRY
)
JOBS = Gauge("membank_jobs", "Jobs by status.", ["status"], registry=REGISTRY)
