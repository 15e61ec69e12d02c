"""Time helpers: every stored time is UTC; stores keep epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_epoch(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def iso(value: datetime | None) -> str | None:
    """The API's form of a time: ISO 8601 in UTC with a `Z`."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
