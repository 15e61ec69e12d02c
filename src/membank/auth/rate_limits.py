"""Request limits per API key and per tenant, checked after authentication (docs/rate-limits.md)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from membank.errors import BackendUnavailable, RateLimiterUnavailable, RateLimitExceeded
from membank.models import Principal
from membank.storage.ports.rate_limits import Rate, RateDecision, RateLimitStore, RateState

log = structlog.get_logger(__name__)

MINUTE = 60.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Requests per minute and per day (0: no limit); `burst` requests may come at once per minute."""

    per_minute: int = 0
    per_day: int = 0
    burst: int | None = None


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """The limits of each key, of each tenant, the tenants with limits of their own, and of each client
    address for requests without valid credentials (and the public token routes)."""

    key: Limits
    tenant: Limits
    tenant_overrides: Mapping[str, Limits]
    unauthenticated: Limits = Limits()

    def rates(self, principal: Principal) -> list[Rate]:
        """The rates one request of `principal` is charged to."""
        tenant = self.tenant_overrides.get(principal.tenant_id, self.tenant)
        return [
            *_rates(f"key:{principal.tenant_id}:{principal.subject}", self.key),
            *_rates(f"tenant:{principal.tenant_id}", tenant),
        ]


def _rates(key: str, limits: Limits) -> list[Rate]:
    rates = []
    if limits.per_minute:
        rates.append(Rate(f"{key}:minute", limits.per_minute, MINUTE, limits.burst or limits.per_minute))
    if limits.per_day:
        # A day's allowance may be spent at once; it comes back at per_day / day.
        rates.append(Rate(f"{key}:day", limits.per_day, DAY, limits.per_day))
    return rates


@dataclass(frozen=True, slots=True)
class RateCheck:
    """The X-RateLimit-* headers of the answer (and Retry-After when refused), and the refusal if any."""

    headers: dict[str, str]
    refusal: RateLimitExceeded | None = None


class RateLimiter:
    """Charges each request to its key's and tenant's rates; refuses it (429) when one is spent.

    When the shared store (Redis) is down: `fail_open` serves the request unlimited and logs once per
    outage; otherwise the request gets 503 RATE_LIMITER_UNAVAILABLE."""

    def __init__(self, store: RateLimitStore, policy: RatePolicy, *, fail_open: bool) -> None:
        self._store = store
        self._policy = policy
        self._fail_open = fail_open
        self._bypassing = False

    @property
    def bypassing(self) -> bool:
        """Whether limits are not enforced right now (the store failed and the mode is fail open)."""
        return self._bypassing

    async def check(self, principal: Principal) -> RateCheck:
        """Charge one request of `principal`; raises RateLimiterUnavailable (fail closed, store down)."""
        return await self._charge(self._policy.rates(principal))

    async def check_address(self, ip: str | None) -> RateCheck:
        """Charge one unauthenticated request to its client address (all unknown addresses share one)."""
        return await self._charge(_rates(f"ip:{ip or 'unknown'}", self._policy.unauthenticated))

    async def _charge(self, rates: list[Rate]) -> RateCheck:
        if not rates:
            return RateCheck({})
        try:
            decision = await asyncio.to_thread(self._store.hit, rates)
        except BackendUnavailable as exc:
            return self._unavailable(exc)
        if self._bypassing:
            self._bypassing = False
            log.info("rate_limits_enforced_again")
        headers = _headers(decision)
        if not decision.allowed:
            spent = min(decision.states, key=lambda s: s.remaining)
            refusal = RateLimitExceeded(
                f"rate limit exceeded: {spent.rate.limit} requests per {_period(spent.rate)}; "
                f"retry in {headers['Retry-After']} s",
                retry_after_seconds=round(decision.retry_after_seconds, 3),
                details={
                    "limit": spent.rate.limit,
                    "period": _period(spent.rate),
                    "scope": spent.rate.key.split(":", 1)[0],
                },
            )
            return RateCheck(headers, refusal)
        return RateCheck(headers)

    def _unavailable(self, exc: BackendUnavailable) -> RateCheck:
        if not self._fail_open:
            raise RateLimiterUnavailable(
                "the rate limiter's store is unavailable and MEMBANK_RATE_LIMIT_FAIL_MODE=closed",
                details={"backend": "redis"},
            ) from None
        if not self._bypassing:
            self._bypassing = True
            log.warning("rate_limits_not_enforced", reason=exc.message, fail_mode="open")
        return RateCheck({})


def _period(rate: Rate) -> str:
    return "minute" if rate.period_seconds == MINUTE else "day"


def _headers(decision: RateDecision) -> dict[str, str]:
    # The tightest rate speaks for all: the one with the fewest requests left (the longest wait on a tie).
    state: RateState = min(decision.states, key=lambda s: (s.remaining, -s.reset_seconds))
    headers = {
        "X-RateLimit-Limit": str(state.rate.limit),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(math.ceil(state.reset_seconds)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_seconds)))
    return headers
