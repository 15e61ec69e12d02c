"""Backends that live in this process only: what one process uses when no shared store (Redis) is set."""

from membank.storage.inprocess.rate_limits import InProcessRateLimits, decide

__all__ = ["InProcessRateLimits", "decide"]
