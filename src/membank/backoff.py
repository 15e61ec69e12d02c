"""Polling loops that wait longer while a backend stays down."""

from __future__ import annotations

OUTAGE_MAX_WAIT_SECONDS = 5.0


class OutageBackoff:
    """The wait of a polling loop: its normal poll while the backend answers, doubling from it (up to
    `max_wait`) while the backend stays down. An outage then costs one log line per wait, not one per poll,
    and a recovered backend is back to the normal poll at once."""

    def __init__(self, poll_seconds: float, max_wait: float = OUTAGE_MAX_WAIT_SECONDS) -> None:
        self._poll = poll_seconds
        self._max_wait = max(max_wait, poll_seconds)
        self.failures = 0

    def failed(self) -> float:
        """Count a failed round; the wait before the next one."""
        self.failures += 1
        return self.wait

    def succeeded(self) -> bool:
        """Count a round that reached the backend; True if it ends an outage."""
        recovered = self.failures > 0
        self.failures = 0
        return recovered

    @property
    def wait(self) -> float:
        if self.failures == 0:
            return self._poll
        return float(min(self._max_wait, self._poll * 2.0 ** (self.failures - 1)))
