"""Capacity: one snapshot a day of the deployment's size, and forecasts fitted over that history (days until
the disk or the memory is full at the current trend), with the fit's uncertainty said.

The fit is ordinary least squares of each quantity over days. Its slope's standard error gives a range of
about 95 % (slope ± 2 standard errors): a forecast from a short or noisy history says so by a wide range,
and below three days there is no forecast at all (two points always fit a line exactly, with no error).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from membank.errors import BackendUnavailable
from membank.observability.host import memory_limit_bytes, resident_bytes
from membank.observability.usage import utc_day
from membank.storage.ports import CapacitySnapshot, UsageRepository

__all__ = ["MIN_HISTORY_DAYS", "CapacityRecorder", "Trend", "fit_trend", "runway"]

log = structlog.get_logger(__name__)

MIN_HISTORY_DAYS = 3
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Trend:
    """Growth per day of a quantity, its standard error (None: too few points to know it), and the points."""

    per_day: float
    stderr: float | None
    points: int


def fit_trend(days: Sequence[float], values: Sequence[float]) -> Trend:
    """Least-squares line through (day, value): its slope and the slope's standard error."""
    n = len(days)
    if n < 2:
        return Trend(0.0, None, n)
    mean_x, mean_y = sum(days) / n, sum(values) / n
    sxx = sum((x - mean_x) ** 2 for x in days)
    if sxx == 0:
        return Trend(0.0, None, n)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(days, values, strict=True)) / sxx
    if n < MIN_HISTORY_DAYS:
        return Trend(slope, None, n)
    intercept = mean_y - slope * mean_x
    residuals = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(days, values, strict=True))
    return Trend(slope, math.sqrt(residuals / (n - 2) / sxx), n)


def runway(headroom: float, trend: Trend) -> dict[str, Any]:
    """Days until `headroom` is used up at `trend`: the estimate and its range (None: not at this trend)."""
    if trend.stderr is None:
        return {
            "days": None,
            "range_days": None,
            "verdict": f"not enough history ({trend.points} days; {MIN_HISTORY_DAYS} needed)",
        }
    low_slope, high_slope = trend.per_day - 2 * trend.stderr, trend.per_day + 2 * trend.stderr

    def days_at(slope: float) -> float | None:
        return round(headroom / slope, 1) if slope > 0 else None

    estimate = days_at(trend.per_day)
    return {
        "days": estimate,
        # Soonest at the fastest plausible growth; latest at the slowest (None: it may never fill).
        "range_days": [days_at(high_slope), days_at(low_slope)],
        "verdict": "not growing at this trend" if estimate is None else f"full in about {estimate:g} days",
    }


def _tree_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


class CapacityRecorder:
    """Takes the deployment's snapshot (kept as the day's) and forecasts from the history."""

    def __init__(self, usage: UsageRepository, *, data_dir: Path, index_dir: Path | None) -> None:
        self._usage = usage
        self._data_dir = data_dir
        self._index_dir = index_dir  # None: the index lives in the database (or on a server of its own)

    def snapshot(self, at: float | None = None) -> CapacitySnapshot:
        """Measure now and keep it as today's snapshot (blocking)."""
        now = at if at is not None else time.time()
        storage = self._usage.storage()
        disk = shutil.disk_usage(self._data_dir if self._data_dir.exists() else Path.cwd())
        snapshot = CapacitySnapshot(
            day=utc_day(now),
            memories=sum(tenant.memories for tenant in storage),
            content_bytes=sum(tenant.content_bytes for tenant in storage),
            store_bytes=self._usage.store_bytes(),
            index_bytes=_tree_bytes(self._index_dir) if self._index_dir is not None else 0,
            disk_free_bytes=disk.free,
            disk_size_bytes=disk.total,
            rss_bytes=resident_bytes() or 0,
            memory_size_bytes=memory_limit_bytes(),
            recorded_at=now,
        )
        self._usage.record_capacity(snapshot)
        return snapshot

    async def run(self, stop: asyncio.Event, every_seconds: float) -> None:
        """A snapshot at start and every `every_seconds` until `stop`."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.snapshot)
            except BackendUnavailable as exc:
                log.warning("capacity_snapshot_failed", error=exc.message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    def forecast(self, *, history_days: int = 90, at: float | None = None) -> dict[str, Any]:
        """Growth of memories, disk use and memory use over the last `history_days` daily snapshots, and
        the days until the disk and the memory are full at that growth."""
        now = at if at is not None else time.time()
        history = self._usage.capacity_history(since_day=utc_day(now - history_days * _DAY))
        if not history:
            return {"history_days": 0, "verdict": "no snapshot yet"}
        days = [snapshot.recorded_at / _DAY for snapshot in history]
        latest = history[-1]
        used = [float(s.store_bytes + s.index_bytes) for s in history]
        disk_trend = fit_trend(days, used)
        memory_trend = fit_trend(days, [float(s.rss_bytes) for s in history])
        memories_trend = fit_trend(days, [float(s.memories) for s in history])
        return {
            "history_days": len(history),
            "first_day": history[0].day,
            "last_day": latest.day,
            "memories": {"now": latest.memories, **_growth(memories_trend)},
            "disk": {
                "used_bytes": latest.store_bytes + latest.index_bytes,
                "free_bytes": latest.disk_free_bytes,
                "size_bytes": latest.disk_size_bytes,
                **_growth(disk_trend),
                "until_full": runway(latest.disk_free_bytes, disk_trend),
            },
            "memory": {
                "rss_bytes": latest.rss_bytes,
                "limit_bytes": latest.memory_size_bytes,
                **_growth(memory_trend),
                "until_full": runway(max(0, latest.memory_size_bytes - latest.rss_bytes), memory_trend),
            },
        }


def _growth(trend: Trend) -> dict[str, Any]:
    return {
        "growth_per_day": round(trend.per_day, 1),
        "growth_stderr": None if trend.stderr is None else round(trend.stderr, 1),
    }
