"""Failed-login counts on Redis, on the database while Redis is down: one `LoginFailureStore` over both.

Redis counts for every instance; the database is the system of record. What must survive an outage or a
Redis restart is a lockout, so the failure that starts one is also written to the database (`hold_lockout`),
and every check reads both stores: the stricter state wins. While Redis is down the failures are counted on
the database, and a lockout they start holds on both sides once Redis returns. Not kept across a switch:
failures short of a lockout, counted on the store that is not in use.
"""

from __future__ import annotations

import structlog

from membank.errors import BackendUnavailable
from membank.storage.ports.login_failures import (
    LockoutPolicy,
    LoginFailureRepository,
    LoginFailures,
    LoginFailureStore,
)

log = structlog.get_logger(__name__)


def _stricter(first: LoginFailures | None, second: LoginFailures | None) -> LoginFailures | None:
    if first is None or second is None:
        return first if second is None else second
    ends = [until for until in (first.locked_until, second.locked_until) if until is not None]
    return LoginFailures(
        max(first.failures, second.failures), max(first.lockouts, second.lockouts), max(ends, default=None)
    )


class FailoverLoginFailures:
    def __init__(self, shared: LoginFailureStore, system_of_record: LoginFailureRepository) -> None:
        self._shared = shared
        self._record = system_of_record

    def get(self, tenant_id: str, email: str) -> LoginFailures | None:
        stored = self._record.get(tenant_id, email)
        try:
            counted = self._shared.get(tenant_id, email)
        except BackendUnavailable:
            return stored
        return _stricter(counted, stored)

    def record(self, tenant_id: str, email: str, policy: LockoutPolicy, *, at: float) -> LoginFailures:
        try:
            state = self._shared.record(tenant_id, email, policy, at=at)
        except BackendUnavailable:
            log.warning("login_failures_on_database", reason="redis unavailable")
            return self._record.record(tenant_id, email, policy, at=at)
        if state.locked_until is not None and state.failures == 0:
            # This failure started a lockout (the count begins anew): keep it in the system of record.
            self._record.hold_lockout(tenant_id, email, state.lockouts, state.locked_until, at=at)
        return state

    def clear(self, tenant_id: str, email: str) -> bool:
        cleared = self._record.clear(tenant_id, email)
        try:
            return self._shared.clear(tenant_id, email) or cleared
        except BackendUnavailable:
            # The Redis count outlives the outage (at most a day plus the longest lockout).
            log.warning("login_failures_not_cleared_on_redis", reason="redis unavailable")
            return cleared
