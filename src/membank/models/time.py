"""Time helpers: every stored time is UTC; stores keep epoch seconds.

Every time the service accepts lies in ``EARLIEST .. LATEST`` (1700-01-01T00:00:00Z .. 2200-12-31T23:59:59.999999Z).
The stores keep epoch seconds as IEEE doubles, and only within ±2**33 s of 1970 (1697..2242) does a double still
hold every microsecond exactly, so within this range an accepted time reads back identical; beyond it, times
would drift by microseconds (by up to 15 µs in year 9000) and, past year 9999, no longer be representable at all.
The margin to datetime's own limits (years 1 and 9999) keeps any date arithmetic downstream (a relative date
resolved days or years back or ahead) far from overflowing.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1700, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
TIME_RANGE = "1700-01-01T00:00:00Z .. 2200-12-31T23:59:59.999999Z"
# The years of the range, for the OpenAPI document (the exact bounds are checked on UTC).
TIME_PATTERN = r"^(1[7-9][0-9]{2}|2[01][0-9]{2}|2200)-"


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


def in_time_range(value: datetime) -> datetime | None:
    """The time in UTC (naive means UTC) when it lies in EARLIEST .. LATEST, else None."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T12:00-12:00 is in year 10000 in UTC
        return None
    return utc if EARLIEST <= utc <= LATEST else None


def epoch_in_time_range(value: float) -> bool:
    """Whether epoch seconds lie in EARLIEST .. LATEST."""
    return EARLIEST.timestamp() <= value <= LATEST.timestamp()
