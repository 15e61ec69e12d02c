"""What `MemBank` and `AsyncMemBank` share: their options and the resources that need nothing twin-specific
(memories and jobs, which add an iterator and a poll loop, are in sync.py and aio.py)."""

from __future__ import annotations

import os
from typing import Any, Generic

from membank.client.endpoint import Resource, TransportT, operations_of
from membank.client.errors import MemBankTimeoutError
from membank.client.models import Job
from membank.client.resources.access import IpRules, Roles, ServiceAccounts, Teams, Tenants
from membank.client.resources.accounts import Accounts
from membank.client.resources.admin import Admin, Health, SecurityEvents, Usage
from membank.client.resources.auth import Auth, WellKnown
from membank.client.resources.jobs import Batches, Jobs, Users
from membank.client.resources.keys import Keys
from membank.client.resources.memories import Memories
from membank.client.transport import RetryPolicy

__all__ = ["DEFAULT_URL", "RESOURCES", "BaseClient", "job_timeout", "next_offset", "operations"]

DEFAULT_URL = "http://127.0.0.1:8080"


class BaseClient(Generic[TransportT]):
    """The MemBank API over HTTP: one sub-client per resource (`memories`, `jobs`, `keys`, ...), each method
    one operation. `base_url` and `api_key` default to MEMBANK_API_URL (else http://127.0.0.1:8080) and
    MEMBANK_API_KEY. Auth: `api_key` (X-API-Key) or `token` (Authorization: Bearer, e.g. an access token
    from `auth.login`); `sign_requests=True` signs each request with the key (for keys that require it).
    `timeout`: seconds per attempt; `max_retries` (or a whole `retry` policy): see transport.py."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        sign_requests: bool = False,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if api_key is None and token is None:
            api_key = os.environ.get("MEMBANK_API_KEY") or None
        transport = self._connect(
            base_url or os.environ.get("MEMBANK_API_URL") or DEFAULT_URL,
            api_key=api_key,
            token=token,
            sign_requests=sign_requests,
            timeout=timeout,
            retry=retry or RetryPolicy(max_retries=max_retries),
            headers=headers,
        )
        self._transport: TransportT = transport
        self.batches: Batches[TransportT] = Batches(transport)
        self.users: Users[TransportT] = Users(transport)
        self.keys: Keys[TransportT] = Keys(transport)
        self.auth: Auth[TransportT] = Auth(transport)
        self.well_known: WellKnown[TransportT] = WellKnown(transport)
        self.accounts: Accounts[TransportT] = Accounts(transport)
        self.roles: Roles[TransportT] = Roles(transport)
        self.teams: Teams[TransportT] = Teams(transport)
        self.service_accounts: ServiceAccounts[TransportT] = ServiceAccounts(transport)
        self.tenants: Tenants[TransportT] = Tenants(transport)
        self.ip_rules: IpRules[TransportT] = IpRules(transport)
        self.admin: Admin[TransportT] = Admin(transport)
        self.usage: Usage[TransportT] = Usage(transport)
        self.security_events: SecurityEvents[TransportT] = SecurityEvents(transport)
        self.health: Health[TransportT] = Health(transport)

    def _connect(self, base_url: str, **options: Any) -> TransportT:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        url: str = self._transport.base_url
        return url


# Every resource class a client has (tests/sdk checks that the clients have exactly these).
RESOURCES: tuple[type[Resource[Any]], ...] = (
    Memories,
    Jobs,
    Batches,
    Users,
    Keys,
    Auth,
    WellKnown,
    Accounts,
    Roles,
    Teams,
    ServiceAccounts,
    Tenants,
    IpRules,
    Admin,
    Usage,
    SecurityEvents,
    Health,
)


def operations() -> list[tuple[str, str]]:
    """(METHOD, OpenAPI path template) of every operation the SDK declares."""
    return operations_of(RESOURCES)


def next_offset(offset: int, count: int, total: int) -> int | None:
    """Where the next page starts, or None after the last one."""
    following = offset + count
    return following if count and following < total else None


def job_timeout(job: Job, timeout: float) -> MemBankTimeoutError:
    """`wait_for`'s error for a job that did not finish in time."""
    return MemBankTimeoutError(f"job {job.id} is still {job.status} after {timeout} s", request_sent=True)
