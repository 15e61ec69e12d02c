"""Builds backends and services from Settings; shared by the API, the worker and the CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from membank.accounts.login import LoginService
from membank.accounts.mfa import MfaService
from membank.accounts.policy import TenantPolicies
from membank.accounts.registration import Registration
from membank.accounts.service import AccountAdmin
from membank.auth.access import AccessPolicy
from membank.auth.directory import Directory
from membank.auth.events import SecurityEvents
from membank.auth.ip_rules import IpRules
from membank.auth.key_usage import KeyUsageCounter
from membank.auth.mfa import Totp
from membank.auth.rate_limits import Limits, RateLimiter, RatePolicy
from membank.auth.rbac import RoleCatalog
from membank.auth.request_guard import RequestGuard
from membank.auth.secret_box import SecretBox, decode_key, load_or_create_key
from membank.auth.service import AuthService
from membank.auth.sessions import SessionService
from membank.auth.signing import SigningKeys
from membank.auth.wiring import build_lockout, build_oidc, build_passwords, build_sessions
from membank.cache import JsonCodec, SharedCache, TieredCache
from membank.config import Settings
from membank.diagnostics import DiagnosticsService
from membank.errors import BackendUnavailable
from membank.ingest.consolidation import Consolidator
from membank.ingest.conversation import PROCESS_CONVERSATION, ConversationProcessor
from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.ports import Extractor
from membank.ingest.extraction.slots import detect_slot
from membank.ingest.service import IngestService
from membank.ingest.tasks import BATCH_IMPORT, batch_import_handler
from membank.jobs.service import JobService
from membank.jobs.worker import Handler, JobSignal, Worker
from membank.keys.service import KeyAdmin
from membank.memories.service import MemoryService
from membank.observability.health import HealthService, RedisCheck
from membank.observability.llm import ObservedChatModel
from membank.observability.route_latency import ROUTE_LATENCY
from membank.observability.tracing import flush_traces, traced
from membank.observability.usage import UsageMeter
from membank.providers.embedders import build_embedder
from membank.providers.embedders.ports import Embedder
from membank.providers.llms import ChatModel, build_chat_model
from membank.search.caching import AnswerCache
from membank.search.index_health import IndexHealth
from membank.search.indexing import IndexSync
from membank.search.maintenance import IndexMaintainer
from membank.search.scoring import ScoringWeights
from membank.search.service import SearchService
from membank.search.synthesis import SynthesisService
from membank.storage.cached_login_sessions import CachedLoginSessions, SessionCachedAccounts
from membank.storage.failover_locks import FailoverLockRepository
from membank.storage.failover_login_failures import FailoverLoginFailures
from membank.storage.inprocess import InProcessRateLimits
from membank.storage.keyword_fallback import RecordKeywordSearch
from membank.storage.ports import (
    AccountRepository,
    IdempotencyRepository,
    LockRepository,
    LoginFailureStore,
    LoginSessionRepository,
    RecordStore,
    VectorIndex,
)
from membank.storage.ports.nonces import NonceStore
from membank.storage.ports.rate_limits import RateLimitStore
from membank.storage.redis import (
    RedisConnection,
    RedisIdempotency,
    RedisLockRepository,
    RedisLoginFailures,
    RedisNonceStore,
    RedisRateLimits,
    RedisSessionCache,
)
from membank.storage.sql.database import PoolSettings
from membank.storage.sql.schema import offline_sql
from membank.storage.sql.store import SqlRecordStore
from membank.usage.capacity import CapacityRecorder
from membank.usage.report import UsageReporter

log = structlog.get_logger(__name__)


def open_store(settings: Settings) -> SqlRecordStore:
    """The system of record selected by settings, as it is (`membank migrate` migrates it): a SQLite file in
    the data dir (store=sqlite), or the PostgreSQL database at `database_url` (store=postgres)."""
    if settings.store == "postgres":
        assert settings.database_url is not None  # Settings refuses postgres without it
        pool = PoolSettings(
            size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            timeout_seconds=settings.database_pool_timeout_seconds,
            statement_timeout_ms=settings.database_statement_timeout_ms,
            application_name=settings.database_application_name,
        )
        return SqlRecordStore.postgres(settings.database_url.get_secret_value(), pool)
    return SqlRecordStore.sqlite(settings.sqlite_path)


def build_store(settings: Settings) -> SqlRecordStore:
    """The system of record selected by settings, migrated to the current schema."""
    store = open_store(settings)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def migration_sql(dialect: str = "postgresql") -> str:
    """The DDL of every schema migration of the system of record for `dialect`, rendered without a database
    (`membank migrate --sql`, for DBAs)."""
    return offline_sql(dialect)


def build_index(
    settings: Settings, store: SqlRecordStore | None = None, *, maintenance: bool = False
) -> VectorIndex:
    """The vector index selected by settings. pgvector lives in the system of record's database and shares
    `store`'s connection pool when given (else it opens a pool of its own). A `maintenance` index (`membank
    reindex`, `check`) runs beside serving processes on a shared index (pgvector refuses a second one at a
    time); the embedded index refuses it beside a server by its file lock."""
    if settings.vector_index == "pgvector":
        return _pgvector_index(settings, store, maintenance=maintenance)
    if settings.vector_index == "qdrant":
        return _build_qdrant_server_index(settings)
    from membank.storage.qdrant_edge import QdrantEdgeIndex

    # The data dir holds the index even when the system of record is elsewhere (PostgreSQL).
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # No HNSW build on open: it holds the GIL for its whole run (about a minute at 100k vectors), and
    # searches are always scoped to one user, where the filtered exact scan is fast. `membank reindex` builds it.
    return QdrantEdgeIndex(
        settings.vector_path,
        settings.embedding_dim,
        optimize_on_open=False,
        min_free_bytes=settings.index_min_free_bytes,
    )


def _pgvector_index(settings: Settings, store: SqlRecordStore | None, *, maintenance: bool) -> VectorIndex:
    from membank.storage.pgvector import PgvectorIndex

    if store is not None:
        return PgvectorIndex(store.db, settings.embedding_dim, maintenance=maintenance)
    assert settings.database_url is not None  # Settings refuses pgvector without store=postgres
    url = settings.database_url.get_secret_value()
    return PgvectorIndex.connect(url, settings.embedding_dim, maintenance=maintenance)


def _index_in_write_transactions(store: SqlRecordStore, index: VectorIndex | None) -> None:
    """An index in the system of record's own database is written in each memory write's transaction."""
    from membank.storage.pgvector import PgvectorIndex

    if isinstance(index, PgvectorIndex):
        store.write_index_in_transaction(index.write_in_transaction)


def _build_qdrant_server_index(settings: Settings) -> VectorIndex:
    from membank.storage.qdrant_server import QdrantServerIndex

    assert settings.qdrant_url is not None  # the settings require it for this index
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return QdrantServerIndex.connect(
        settings.qdrant_url,
        settings.embedding_dim,
        api_key=api_key,
        timeout_seconds=settings.qdrant_timeout_seconds,
        ca_bundle=settings.qdrant_ca_bundle,
        collection_name=settings.qdrant_collection,
        retries=settings.qdrant_retries,
        backoff_seconds=settings.qdrant_backoff_seconds,
        breaker_failures=settings.qdrant_breaker_failures,
        breaker_reset_seconds=settings.qdrant_breaker_reset_seconds,
    )


def build_index_sync(
    store: RecordStore, index: VectorIndex, *, poll_seconds: float = 0.5, health: IndexHealth | None = None
) -> IndexSync:
    """The outbox applier (and reindex, check) between this system of record and this index."""
    return IndexSync(
        index, memories=store.memories, outbox=store.outbox, poll_seconds=poll_seconds, health=health
    )


def build_extractor(settings: Settings, chat: ChatModel | None) -> Extractor:
    """The heuristic tier, or the LLM tier falling back to it when an LLM is configured."""
    heuristic = HeuristicExtractor()
    if chat is None:
        return heuristic
    from membank.ingest.extraction.llm import LlmExtractor
    from membank.ingest.extraction.tiered import FallbackExtractor

    return FallbackExtractor(LlmExtractor(chat, max_tokens=settings.llm_max_tokens), heuristic)


def build_shared_cache(settings: Settings) -> SharedCache | None:
    """The Redis L2 when `MEMBANK_REDIS_URL` is set (nothing is sent until it is used), else None."""
    if settings.redis_url is None:
        return None
    from membank.cache.redis import RedisCache

    return RedisCache(
        settings.redis_url.get_secret_value(),
        prefix=settings.redis_key_prefix,
        socket_timeout_seconds=settings.redis_socket_timeout_seconds,
        breaker_seconds=settings.redis_breaker_seconds,
        breaker_max_seconds=settings.redis_breaker_max_seconds,
        recent_limit=settings.cache_recent_limit,
    )


def build_answer_caches(
    settings: Settings, store: RecordStore, shared: SharedCache | None
) -> tuple[AnswerCache, AnswerCache]:
    """The search-result and synthesized-context caches (namespaces versioned with the shape they store)."""

    def answers(name: str, namespace: str, size: int, ttl: float) -> AnswerCache:
        cache: TieredCache[object] = TieredCache(
            name,
            JsonCodec(),
            l1_size=size,
            l1_ttl_seconds=ttl,
            namespace=namespace,
            l2=shared,
            l2_ttl_seconds=ttl,
        )
        return AnswerCache(cache, revisions=store.revisions, outbox=store.outbox)

    return (
        answers("search", "search:v1:", settings.search_cache_size, settings.search_cache_ttl_seconds),
        answers("context", "ctx:v1:", settings.context_cache_size, settings.context_cache_ttl_seconds),
    )


def build_redis(settings: Settings) -> RedisConnection | None:
    """The Redis client shared by this process's Redis backends, when MEMBANK_REDIS_URL is set."""
    if settings.redis_url is None:
        return None
    return RedisConnection(
        settings.redis_url.get_secret_value(),
        timeout_seconds=settings.redis_socket_timeout_seconds,
        retry_seconds=settings.redis_breaker_seconds,
        prefix=settings.redis_key_prefix,
    )


def build_rate_limiter(settings: Settings, redis: RedisConnection | None) -> RateLimiter:
    """Request limits per key and tenant, counted in Redis for every instance (in this process without)."""
    policy = RatePolicy(
        key=Limits(settings.rate_limit_per_minute, settings.rate_limit_per_day, settings.rate_limit_burst),
        tenant=Limits(settings.rate_limit_tenant_per_minute, settings.rate_limit_tenant_per_day),
        tenant_overrides={
            tenant: Limits(
                override.per_minute
                if override.per_minute is not None
                else settings.rate_limit_tenant_per_minute,
                override.per_day if override.per_day is not None else settings.rate_limit_tenant_per_day,
            )
            for tenant, override in settings.rate_limit_tenant_overrides.items()
        },
        unauthenticated=Limits(settings.rate_limit_unauthenticated_per_minute),
    )
    store: RateLimitStore = RedisRateLimits(redis) if redis is not None else InProcessRateLimits()
    return RateLimiter(
        traced(store, "rate_limits"), policy, fail_open=settings.rate_limit_fail_mode == "open"
    )


def build_locks(store: RecordStore, redis: RedisConnection | None) -> LockRepository:
    """Named leases on Redis when configured (on the database while it is down), else on the database."""
    if redis is None:
        return store.locks
    return FailoverLockRepository(RedisLockRepository(redis), store.locks)


def build_login_failures(store: RecordStore, redis: RedisConnection | None) -> LoginFailureStore:
    """Failed-login counts on Redis when configured (lockouts kept in the database too), else in the database."""
    if redis is None:
        return store.login_failures
    return FailoverLoginFailures(RedisLoginFailures(redis), store.login_failures)


def build_login_state(
    settings: Settings, store: RecordStore, redis: RedisConnection | None
) -> tuple[LoginSessionRepository, AccountRepository]:
    """Login sessions and accounts in the store; with Redis, the session check's read is cached there (every
    change to either ends the entries it touches)."""
    if redis is None or settings.session_cache_seconds == 0:
        return store.login_sessions, store.accounts
    cache = RedisSessionCache(redis, ttl_seconds=settings.session_cache_seconds)
    sessions = CachedLoginSessions(store.login_sessions, cache)
    return sessions, SessionCachedAccounts(store.accounts, sessions)


def build_secret_box(settings: Settings) -> SecretBox:
    """The box sealing TOTP secrets and signing keys: MEMBANK_AUTH_SECRET_KEY, else the data dir's key file."""
    if settings.auth_secret_key is not None:
        return SecretBox(decode_key(settings.auth_secret_key.get_secret_value()))
    return SecretBox(load_or_create_key(settings.auth_secret_key_path))


def build_usage_reports(
    settings: Settings, store: RecordStore, meter: UsageMeter
) -> tuple[UsageReporter, CapacityRecorder]:
    """The usage reports and the capacity snapshots over `store` (the API process and `membank usage-report`)."""
    capacity = CapacityRecorder(
        store.usage,
        data_dir=settings.data_dir,
        index_dir=settings.vector_path if settings.vector_index == "qdrant-edge" else None,
    )
    return UsageReporter(store.usage, store.keys, meter, capacity, settings.llm_prices), capacity


def build_diagnostics(
    settings: Settings,
    store: RecordStore,
    index_sync: IndexSync | None,
    events: SecurityEvents,
    *,
    index_note: str | None = None,
    serving: bool = False,
) -> DiagnosticsService:
    """The diagnosis of this process's view of the service (GET /api/v1/admin/diagnostics, `membank doctor`);
    a `serving` process's also reports its slowest routes and LLM error rates."""
    return DiagnosticsService(
        settings,
        outbox=store.outbox,
        job_leases=store.job_leases,
        events=events,
        index_sync=index_sync,
        index_note=index_note
        or (None if index_sync is not None else "this process holds no vector index: diagnose the server"),
        route_latency=ROUTE_LATENCY if serving else None,
    )


@dataclass(slots=True)
class Container:
    """Everything a process runs, built once."""

    settings: Settings
    store: RecordStore  # owned for its lifecycle (close); services get only their ports
    idempotency: IdempotencyRepository
    redis: RedisConnection | None  # owned for its lifecycle (close), like the store
    rate_limiter: RateLimiter
    embedder: Embedder
    shared_cache: SharedCache | None
    index: VectorIndex | None
    index_sync: IndexSync | None
    index_health: IndexHealth | None
    index_maintainer: IndexMaintainer | None
    auth: AuthService
    key_usage: KeyUsageCounter
    usage_meter: UsageMeter
    usage: UsageReporter
    capacity: CapacityRecorder
    key_admin: KeyAdmin
    account_admin: AccountAdmin
    logins: LoginService
    mfa: MfaService
    request_guard: RequestGuard
    ip_rules: IpRules
    tenant_policies: TenantPolicies
    registration: Registration
    access: AccessPolicy
    directory: Directory
    security_events: SecurityEvents
    secret_box: SecretBox
    signing_keys: SigningKeys
    sessions: SessionService
    health: HealthService
    diagnostics: DiagnosticsService
    memories: MemoryService
    jobs: JobService
    search: SearchService | None
    synthesis: SynthesisService | None
    ingest: IngestService
    chat: ChatModel | None
    signal: JobSignal
    handlers: dict[str, Handler]

    def new_worker(self) -> Worker:
        s = self.settings
        return Worker(
            self.store.jobs,
            self.handlers,
            lease_seconds=s.job_lease_seconds,
            poll_seconds=s.job_poll_seconds,
            backoff_seconds=s.job_backoff_seconds,
            on_progress=self._wake_index,
            signal=self.signal,
            usage=self.usage_meter,
        )

    def _wake_index(self) -> None:
        if self.index_sync is not None:
            self.index_sync.wake()

    async def start(self) -> None:
        await self.embedder.start()

    async def aclose(self) -> None:
        try:
            # Counts of the last moments before shutdown; a store that is down loses them (logged).
            self.key_usage.flush()
        except BackendUnavailable as exc:
            log.warning("key_usage_flush_failed", error=exc.message)
        try:
            self.usage_meter.flush()
        except BackendUnavailable as exc:
            log.warning("usage_flush_failed", error=exc.message)
        await self.embedder.aclose()
        if self.chat is not None:
            await self.chat.aclose()
        if self.index is not None:
            self.index.close()
        if self.shared_cache is not None:
            self.shared_cache.close()
        if self.redis is not None:
            self.redis.close()
        self.store.close()
        await asyncio.to_thread(flush_traces)  # a process about to exit sends its last spans


def build_container(settings: Settings, *, with_index: bool = True) -> Container:
    """Wire the process. Without the index (a standalone worker), writes reach it through the outbox,
    applied by the process that owns the index."""
    store = build_store(settings)
    shared_cache = traced(build_shared_cache(settings), "cache.shared")
    redis = build_redis(settings)
    locks = traced(build_locks(store, redis), "locks")
    embedder = traced(build_embedder(settings, shared_cache), "embedder")
    search_cache, context_cache = build_answer_caches(settings, store, shared_cache)
    search_cache, context_cache = traced(search_cache, "cache.search"), traced(context_cache, "cache.context")
    # What requests and jobs call, with a span each when tracing is on (the background loops use the
    # ports themselves).
    memories = traced(store.memories, "store.memories")
    versions = traced(store.versions, "store.versions")
    job_records = traced(store.jobs, "store.jobs")
    index = build_index(settings, store) if with_index else None
    _index_in_write_transactions(store, index)
    health = IndexHealth() if index is not None else None
    index_sync = (
        build_index_sync(store, index, poll_seconds=settings.outbox_poll_seconds, health=health)
        if index is not None
        else None
    )
    maintainer = (
        IndexMaintainer(
            index,
            index_sync,
            health,
            memories=store.memories,
            outbox=store.outbox,
            probe_seconds=settings.index_probe_seconds,
        )
        if index is not None and index_sync is not None and health is not None
        else None
    )
    weights = ScoringWeights(
        fusion=settings.search_fusion,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        keyword_weight=settings.keyword_weight,
        recency_weight=settings.recency_weight,
        importance_weight=settings.importance_weight,
    )
    searched_index = traced(index, "index")
    search = (
        SearchService(
            memories,
            searched_index,
            embedder,
            candidates=settings.search_candidates,
            weights=weights,
            health=health,
            cache=search_cache,
            fallback=RecordKeywordSearch(memories, max_scan=settings.search_fallback_max_scan),
        )
        if searched_index is not None
        else None
    )
    wake = index_sync.wake if index_sync is not None else None
    backend_chat = build_chat_model(settings)
    chat = ObservedChatModel(backend_chat, settings.llm_prices) if backend_chat is not None else None
    consolidator = Consolidator(
        searched_index,
        index_sync.apply_for if index_sync is not None else None,
        index_ready=(lambda: health.available) if health is not None else None,
        memories=memories,
        versions=versions,
    )
    processor = ConversationProcessor(
        embedder,
        build_extractor(settings, chat),
        consolidator,
        jobs=job_records,
        locks=locks,
        sessions=store.sessions,
        usage=store.usage,
        window=settings.extraction_window_turns,
        lock_ttl=settings.lock_ttl_seconds,
        on_written=wake,
    )
    handlers: dict[str, Handler] = {
        BATCH_IMPORT: batch_import_handler(
            memories, embedder, chunk_size=settings.batch_chunk_size, on_written=wake
        ),
        PROCESS_CONVERSATION: processor,
    }
    signal = JobSignal()
    security_events = SecurityEvents(store.security_events)
    secret_box = build_secret_box(settings)
    login_sessions, accounts = build_login_state(settings, store, redis)
    signing_keys, sessions = build_sessions(
        settings, store, security_events, secret_box, login_sessions=login_sessions
    )
    key_usage = KeyUsageCounter(store.keys)
    usage_meter = UsageMeter(store.usage)
    usage, capacity = build_usage_reports(settings, store, usage_meter)
    nonces: NonceStore = RedisNonceStore(redis) if redis is not None else store.nonces
    auth = AuthService(
        store.keys,
        enabled=settings.auth_enabled,
        sessions=sessions,
        oidc=build_oidc(settings, store),
        service_accounts=store.service_accounts,
        usage=key_usage,
        roles=RoleCatalog(store.roles),
    )
    passwords = build_passwords(settings)
    mfa = MfaService(accounts, Totp(secret_box, nonces, issuer=settings.mfa_issuer), security_events)
    login_failures = build_login_failures(store, redis)
    account_admin = AccountAdmin(
        accounts,
        passwords,
        failures=login_failures,
        roles=auth.roles,
        mfa=mfa,
        sessions=sessions,
        events=security_events,
    )
    logins = LoginService(
        accounts,
        store.keys,
        passwords,
        build_lockout(settings),
        failures=login_failures,
        mfa=mfa,
        sessions=sessions,
        events=security_events,
    )
    jobs = JobService(
        job_records,
        max_attempts=settings.job_max_attempts,
        signal=signal,
        max_unfinished_per_tenant=settings.job_queue_max_per_tenant,
    )
    return Container(
        settings=settings,
        store=store,
        # Reservations on Redis when configured; the stored responses stay in the system of record.
        idempotency=RedisIdempotency(redis, store.idempotency) if redis is not None else store.idempotency,
        redis=redis,
        rate_limiter=build_rate_limiter(settings, redis),
        embedder=embedder,
        shared_cache=shared_cache,
        index=index,
        index_sync=index_sync,
        index_health=health,
        index_maintainer=maintainer,
        auth=auth,
        key_usage=key_usage,
        usage_meter=usage_meter,
        usage=usage,
        capacity=capacity,
        key_admin=KeyAdmin(
            store.keys, store.service_accounts, roles=auth.roles, events=security_events, usage=key_usage
        ),
        account_admin=account_admin,
        logins=logins,
        mfa=mfa,
        request_guard=RequestGuard(nonces, security_events, window_seconds=settings.signature_window_seconds),
        security_events=security_events,
        ip_rules=IpRules(store.ip_rules, security_events, refresh_seconds=settings.ip_rules_refresh_seconds),
        tenant_policies=TenantPolicies(store.tenant_policies, auth.roles, security_events),
        registration=Registration(accounts, store.keys, store.tenant_policies, passwords, security_events),
        secret_box=secret_box,
        signing_keys=signing_keys,
        sessions=sessions,
        access=AccessPolicy(store.teams),
        directory=Directory(store.roles, store.teams, security_events),
        health=HealthService(
            embedder,
            ping_store=store.ping,
            pool_usage=store.pool_usage,
            data_dir=settings.data_dir,
            outbox=store.outbox,
            jobs=store.jobs,
            index_maintainer=maintainer,
            index_health=health,
            redis=RedisCheck(
                cache=shared_cache,
                ping=redis.ping,
                fallback=(
                    "cache bypassed; rate limits "
                    + (
                        "refused (fail closed)"
                        if settings.rate_limit_fail_mode == "closed"
                        else "not enforced"
                    )
                    + "; locks on the database"
                ),
                required=settings.rate_limit_fail_mode == "closed",
            )
            if redis is not None and shared_cache is not None  # both exist when MEMBANK_REDIS_URL is set
            else None,
        ),
        diagnostics=build_diagnostics(settings, store, index_sync, security_events, serving=True),
        memories=MemoryService(
            embedder,
            index_sync,
            memories=memories,
            versions=versions,
            locks=locks,
            lock_ttl=settings.lock_ttl_seconds,
            detect_slot=detect_slot,
        ),
        jobs=jobs,
        search=search,
        synthesis=SynthesisService(
            search,
            chat,
            cache=context_cache,
            usage=store.usage,
            max_tokens=settings.llm_max_tokens,
        )
        if search is not None
        else None,
        ingest=IngestService(jobs, sessions=store.sessions, usage=store.usage),
        chat=chat,
        signal=signal,
        handlers=handlers,
    )
