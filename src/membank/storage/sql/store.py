"""The system of record over SQLAlchemy Core: one implementation for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from membank.storage.ports import PoolUsage
from membank.storage.sql.access import SqlRoleRepository, SqlTeamRepository
from membank.storage.sql.accounts import SqlAccountRepository
from membank.storage.sql.database import PoolSettings, SqlDatabase
from membank.storage.sql.idempotency import SqlIdempotency
from membank.storage.sql.ip_rules import SqlIpRuleRepository
from membank.storage.sql.job_leases import SqlJobLeases
from membank.storage.sql.jobs import SqlJobRepository
from membank.storage.sql.keys import SqlKeyRepository
from membank.storage.sql.locks import SqlLockRepository
from membank.storage.sql.login_failures import SqlLoginFailures
from membank.storage.sql.login_sessions import SqlLoginSessions
from membank.storage.sql.memories import SqlMemoryRepository
from membank.storage.sql.nonces import SqlNonceStore
from membank.storage.sql.outbox import SqlOutbox
from membank.storage.sql.schema import upgrade
from membank.storage.sql.security_events import SqlSecurityEventLog
from membank.storage.sql.service_accounts import SqlServiceAccountRepository
from membank.storage.sql.sessions import SqlSessionRepository
from membank.storage.sql.signing_keys import SqlSigningKeys
from membank.storage.sql.tenant_policy import SqlTenantPolicyRepository
from membank.storage.sql.usage import SqlUsageRepository
from membank.storage.sql.writes import IndexWriter

__all__ = ["SqlRecordStore"]


class SqlRecordStore:
    """Every repository of the system of record over one database (a SQLite file or a PostgreSQL URL)."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self._memories = SqlMemoryRepository(db)
        self._outbox = SqlOutbox(db)
        self._jobs = SqlJobRepository(db)
        self._job_leases = SqlJobLeases(db)
        self._keys = SqlKeyRepository(db)
        self._idempotency = SqlIdempotency(db)
        self._sessions = SqlSessionRepository(db)
        self._locks = SqlLockRepository(db)
        self._usage = SqlUsageRepository(db)
        self._security_events = SqlSecurityEventLog(db)
        self._login_sessions = SqlLoginSessions(db)
        self._accounts = SqlAccountRepository(db)
        self._login_failures = SqlLoginFailures(db)
        self._signing_keys = SqlSigningKeys(db)
        self._service_accounts = SqlServiceAccountRepository(db)
        self._nonces = SqlNonceStore(db)
        self._roles = SqlRoleRepository(db)
        self._teams = SqlTeamRepository(db)
        self._ip_rules = SqlIpRuleRepository(db)
        self._tenant_policies = SqlTenantPolicyRepository(db)

    @classmethod
    def sqlite(cls, path: Path) -> SqlRecordStore:
        """The embedded store in one SQLite file."""
        return cls(SqlDatabase.sqlite(path))

    @classmethod
    def postgres(cls, url: str, pool: PoolSettings | None = None) -> SqlRecordStore:
        """The store in a PostgreSQL database."""
        return cls(SqlDatabase(url, pool))

    @property
    def memories(self) -> SqlMemoryRepository:
        return self._memories

    @property
    def versions(self) -> SqlMemoryRepository:
        """History of memories (the memory repository keeps it)."""
        return self._memories

    @property
    def revisions(self) -> SqlMemoryRepository:
        """Per-user write revisions (bumped by the memory repository's writes)."""
        return self._memories

    @property
    def outbox(self) -> SqlOutbox:
        return self._outbox

    @property
    def jobs(self) -> SqlJobRepository:
        return self._jobs

    @property
    def job_leases(self) -> SqlJobLeases:
        return self._job_leases

    @property
    def keys(self) -> SqlKeyRepository:
        return self._keys

    @property
    def idempotency(self) -> SqlIdempotency:
        return self._idempotency

    @property
    def sessions(self) -> SqlSessionRepository:
        return self._sessions

    @property
    def locks(self) -> SqlLockRepository:
        return self._locks

    @property
    def usage(self) -> SqlUsageRepository:
        return self._usage

    @property
    def security_events(self) -> SqlSecurityEventLog:
        return self._security_events

    @property
    def login_sessions(self) -> SqlLoginSessions:
        return self._login_sessions

    @property
    def accounts(self) -> SqlAccountRepository:
        return self._accounts

    @property
    def login_failures(self) -> SqlLoginFailures:
        return self._login_failures

    @property
    def signing_keys(self) -> SqlSigningKeys:
        return self._signing_keys

    @property
    def service_accounts(self) -> SqlServiceAccountRepository:
        return self._service_accounts

    @property
    def nonces(self) -> SqlNonceStore:
        return self._nonces

    @property
    def roles(self) -> SqlRoleRepository:
        return self._roles

    @property
    def teams(self) -> SqlTeamRepository:
        return self._teams

    @property
    def ip_rules(self) -> SqlIpRuleRepository:
        return self._ip_rules

    @property
    def tenant_policies(self) -> SqlTenantPolicyRepository:
        return self._tenant_policies

    def write_index_in_transaction(self, writer: IndexWriter) -> None:
        """Let every memory write bring an index in this database up to date in its own transaction (no
        outbox row then, unless the writer fails; erasures keep theirs)."""
        self._memories.index_writer = writer

    def migrate(self) -> list[str]:
        """Bring the schema to head (adopting a pre-Alembic SQLite schema); the names applied."""
        return upgrade(self.db)

    def ping(self) -> None:
        self.db.ping()

    def pool_usage(self) -> PoolUsage:
        return self.db.pool_usage()

    def close(self) -> None:
        self.db.close()
