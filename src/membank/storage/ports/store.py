"""The system of record as a whole: what bootstrap builds and hands out port by port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from membank.storage.ports.access import RoleRepository, TeamRepository
from membank.storage.ports.accounts import AccountRepository
from membank.storage.ports.idempotency import IdempotencyRepository
from membank.storage.ports.ip_rules import IpRuleRepository
from membank.storage.ports.job_leases import JobLeases
from membank.storage.ports.jobs import JobRepository
from membank.storage.ports.keys import KeyRepository
from membank.storage.ports.locks import LockRepository
from membank.storage.ports.login_failures import LoginFailureRepository
from membank.storage.ports.login_sessions import LoginSessionRepository
from membank.storage.ports.memories import MemoryRepository
from membank.storage.ports.nonces import NonceStore
from membank.storage.ports.outbox import Outbox
from membank.storage.ports.revisions import RevisionCounter
from membank.storage.ports.security_events import SecurityEventLog
from membank.storage.ports.service_accounts import ServiceAccountRepository
from membank.storage.ports.sessions import SessionRepository
from membank.storage.ports.signing_keys import SigningKeyRepository
from membank.storage.ports.tenant_policy import TenantPolicyRepository
from membank.storage.ports.usage import UsageRepository
from membank.storage.ports.versions import VersionRepository

__all__ = ["PoolUsage", "RecordStore"]


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """The connections of this process to the store: lent out, idle in the pool, opened past the pool's
    size, and the most it opens."""

    checked_out: int
    idle: int
    overflow: int
    max_connections: int


class RecordStore(Protocol):
    """The system of record: one database, one port per capability. Services never take it whole: bootstrap
    gives each the ports it uses."""

    @property
    def memories(self) -> MemoryRepository:
        """Memories and vectors."""

    @property
    def versions(self) -> VersionRepository:
        """The history of memories."""

    @property
    def revisions(self) -> RevisionCounter:
        """Per-user revision counters."""

    @property
    def outbox(self) -> Outbox:
        """Pending index updates."""

    @property
    def jobs(self) -> JobRepository:
        """Durable jobs."""

    @property
    def job_leases(self) -> JobLeases:
        """Service-wide lease views of the jobs (diagnosis)."""

    @property
    def keys(self) -> KeyRepository:
        """Tenants and API keys."""

    @property
    def idempotency(self) -> IdempotencyRepository:
        """Stored idempotent responses."""

    @property
    def sessions(self) -> SessionRepository:
        """Conversation sessions."""

    @property
    def locks(self) -> LockRepository:
        """Named leases."""

    @property
    def usage(self) -> UsageRepository:
        """LLM token usage."""

    @property
    def security_events(self) -> SecurityEventLog:
        """The append-only security event log."""

    @property
    def login_sessions(self) -> LoginSessionRepository:
        """Login sessions of human accounts and their refresh tokens."""

    @property
    def accounts(self) -> AccountRepository:
        """Human accounts, their password history and MFA recovery codes."""

    @property
    def login_failures(self) -> LoginFailureRepository:
        """Failed logins and lockouts per (tenant, email)."""

    @property
    def signing_keys(self) -> SigningKeyRepository:
        """The keys that sign access tokens."""

    @property
    def service_accounts(self) -> ServiceAccountRepository:
        """Service accounts owning API keys."""

    @property
    def nonces(self) -> NonceStore:
        """Nonces of signed requests (when Redis is not configured)."""

    @property
    def roles(self) -> RoleRepository:
        """The tenants' custom roles."""

    @property
    def teams(self) -> TeamRepository:
        """The tenants' teams of end users."""

    @property
    def ip_rules(self) -> IpRuleRepository:
        """IP allow and deny rules, global and per tenant."""

    @property
    def tenant_policies(self) -> TenantPolicyRepository:
        """Each tenant's registration and MFA policy."""

    def migrate(self) -> list[str]:
        """Apply pending schema migrations."""

    def ping(self) -> None:
        """Raise if the store cannot serve."""

    def pool_usage(self) -> PoolUsage:
        """How many of this process's connections to the store are in use."""

    def close(self) -> None:
        """Release connections."""
