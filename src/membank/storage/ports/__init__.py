"""Storage ports: one small Protocol per capability. Services import these, never a backend.

The system of record (`RecordStore`) owns every memory, version, job, key and outbox row; bootstrap hands each
service only the ports it uses. The `VectorIndex` is derived from it: it can be cleared and rebuilt
(`membank reindex`) and compared (`membank check`). Every method that touches tenant data takes the tenant (or
a `Scope`) explicitly: there is no unscoped query.
"""

from membank.storage.ports.access import CustomRole, RoleRepository, Team, TeamMembership, TeamRepository
from membank.storage.ports.accounts import AccountRepository
from membank.storage.ports.idempotency import IdempotencyRepository, StoredResponse
from membank.storage.ports.index import IndexDocument, IndexHit, IndexResult, VectorIndex, sync_token
from membank.storage.ports.ip_rules import IpRule, IpRuleAction, IpRuleRepository, IpRulesRevision
from membank.storage.ports.job_leases import JobLeaseReport, JobLeases
from membank.storage.ports.jobs import Batch, JobProgress, JobQueueStats, JobRepository
from membank.storage.ports.keys import KeyRepository
from membank.storage.ports.keyword import KeywordResult, KeywordSearch
from membank.storage.ports.locks import LockRepository
from membank.storage.ports.login_failures import (
    LockoutPolicy,
    LoginFailureRepository,
    LoginFailures,
    LoginFailureStore,
)
from membank.storage.ports.login_sessions import LoginSession, LoginSessionRepository, RefreshTokenRecord
from membank.storage.ports.memories import MemoryPage, MemoryRepository
from membank.storage.ports.nonces import NonceStore
from membank.storage.ports.outbox import Outbox, OutboxBacklog, OutboxItem
from membank.storage.ports.rate_limits import Rate, RateDecision, RateLimitStore, RateState
from membank.storage.ports.revisions import RevisionCounter
from membank.storage.ports.security_events import SecurityEvent, SecurityEventLog
from membank.storage.ports.service_accounts import ServiceAccountRepository
from membank.storage.ports.sessions import SessionRepository, SessionState
from membank.storage.ports.signing_keys import SigningKeyRecord, SigningKeyRepository
from membank.storage.ports.store import PoolUsage, RecordStore
from membank.storage.ports.tenant_policy import TenantPolicy, TenantPolicyRepository
from membank.storage.ports.usage import (
    CapacitySnapshot,
    LlmUsageTotal,
    TenantStorage,
    UsageRecord,
    UsageRepository,
)
from membank.storage.ports.versions import VersionRepository

__all__ = [
    "AccountRepository",
    "Batch",
    "CapacitySnapshot",
    "CustomRole",
    "IdempotencyRepository",
    "IndexDocument",
    "IndexHit",
    "IndexResult",
    "IpRule",
    "IpRuleAction",
    "IpRuleRepository",
    "IpRulesRevision",
    "JobLeaseReport",
    "JobLeases",
    "JobProgress",
    "JobQueueStats",
    "JobRepository",
    "KeyRepository",
    "KeywordResult",
    "KeywordSearch",
    "LlmUsageTotal",
    "LockRepository",
    "LockoutPolicy",
    "LoginFailureRepository",
    "LoginFailureStore",
    "LoginFailures",
    "LoginSession",
    "LoginSessionRepository",
    "MemoryPage",
    "MemoryRepository",
    "NonceStore",
    "Outbox",
    "OutboxBacklog",
    "OutboxItem",
    "PoolUsage",
    "Rate",
    "RateDecision",
    "RateLimitStore",
    "RateState",
    "RecordStore",
    "RefreshTokenRecord",
    "RevisionCounter",
    "RoleRepository",
    "SecurityEvent",
    "SecurityEventLog",
    "ServiceAccountRepository",
    "SessionRepository",
    "SessionState",
    "SigningKeyRecord",
    "SigningKeyRepository",
    "StoredResponse",
    "Team",
    "TeamMembership",
    "TeamRepository",
    "TenantPolicy",
    "TenantPolicyRepository",
    "TenantStorage",
    "UsageRecord",
    "UsageRepository",
    "VectorIndex",
    "VersionRepository",
    "sync_token",
]
