"""Liveness and readiness: readiness checks every backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

CheckFn = Callable[[], None]


async def run_checks(checks: dict[str, CheckFn], *, timeout: float = 2.0) -> tuple[bool, dict[str, Any]]:
    """Run each check in a thread with a timeout; (all ok, per-backend status and latency)."""
    results: dict[str, Any] = {}

    async def one(name: str, check: CheckFn) -> None:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.to_thread(check), timeout)
            results[name] = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        except Exception as exc:  # a health check reports any failure rather than raising
            results[name] = {"status": "error", "error": type(exc).__name__}

    await asyncio.gather(*(one(name, check) for name, check in checks.items()))
    return all(r["status"] == "ok" for r in results.values()), results
