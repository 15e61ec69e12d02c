"""The one place that reads the environment: every setting is `MEMBANK_<NAME>`."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    DirectoryPath,
    Field,
    FilePath,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

# What an SSO issuer may sign with: asymmetric algorithms only (a shared secret would let anyone holding the
# published key sign).
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
OidcAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]

_POSTGRES_SCHEMES = {"postgresql", "postgresql+psycopg"}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}


class TenantRateLimits(BaseModel):
    """One tenant's own request limits (MEMBANK_RATE_LIMIT_TENANT_OVERRIDES); a field left out keeps the
    default, 0 turns that limit off."""

    model_config = ConfigDict(extra="forbid")

    per_minute: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)


class LlmPrice(BaseModel):
    """What a model's tokens cost, in US dollars per million (MEMBANK_LLM_PRICES)."""

    model_config = ConfigDict(extra="forbid")

    prompt: float = Field(ge=0, le=10_000)
    completion: float = Field(ge=0, le=10_000)


class Settings(BaseSettings):
    """Typed settings for the API, the worker, the CLI and the benchmarks alike."""

    # hide_input_in_errors: a validation error never quotes what it was given (a database URL's password).
    model_config = SettingsConfigDict(
        env_prefix="MEMBANK_", env_file=None, extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    data_dir: Path = Path("membank-data")
    # A directory of files named after settings (MEMBANK_DATABASE_URL, MEMBANK_ADMIN_API_KEY...), each holding
    # that setting's value: what Docker/Compose secrets (/run/secrets) and Kubernetes Secret volumes mount.
    # An environment variable of the same name wins over its file; files no setting reads are ignored.
    secrets_dir: DirectoryPath | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)

    admin_api_key: SecretStr | None = None
    auth_enabled: bool = True
    # Seals secrets the service must read back (TOTP secrets, JWT signing keys): 32 bytes, base64. Every
    # instance sharing a store needs the same one; unset, a key file in the data dir is made on first use
    # (fine for one embedded instance, not for several).
    auth_secret_key: SecretStr | None = None
    # Access tokens (JWT, EdDSA) of login sessions: who issues them, for whom, how long they live, and the
    # clock skew tolerated between instances when checking exp/nbf/iat.
    jwt_issuer: str = Field(default="membank", min_length=1)
    jwt_audience: str = Field(default="membank-api", min_length=1)
    access_token_ttl_seconds: int = Field(default=900, ge=1, le=86_400)
    jwt_leeway_seconds: int = Field(default=5, ge=0, le=300)
    # How long an instance keeps the signing keys it read (a key made by another instance is fetched at once
    # when a token names it; a rotated-out key is retired this long after the access-token TTL too).
    signing_key_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Login sessions: a refresh token's life, the longest a session may go unused, its absolute end, and how
    # many live sessions one account may hold (the oldest is revoked on the next login past it).
    refresh_token_ttl_seconds: int = Field(default=14 * 86_400, ge=1)
    session_idle_timeout_seconds: int = Field(default=7 * 86_400, ge=1)
    session_absolute_timeout_seconds: int = Field(default=30 * 86_400, ge=1)
    session_limit_per_account: int = Field(default=10, ge=1, le=1000)
    # With Redis: how long a session check may be answered from Redis instead of the database. Every change
    # ends the entry at once; this bounds only a change made while its instance could not reach Redis.
    # 0: every check reads the database.
    session_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # Single sign-on: access tokens of an external OIDC issuer are accepted when oidc_issuer is set (with
    # its JWKS URL and the audience its tokens carry for us). Claims map to the tenant (by name), roles and
    # bound end users; only asymmetric algorithms can be chosen.
    oidc_issuer: str | None = None
    oidc_jwks_url: str | None = None
    oidc_audience: str | None = None
    oidc_algorithms: list[OidcAlgorithm] = Field(
        default_factory=lambda: list[OidcAlgorithm](["RS256"]), min_length=1
    )
    oidc_tenant_claim: str = "tenant"
    oidc_roles_claim: str = "roles"
    oidc_user_ids_claim: str = "user_ids"
    # The issuer's keys are kept this long; a token naming an unknown kid fetches them again, at most once
    # per oidc_jwks_refetch_seconds.
    oidc_jwks_cache_seconds: float = Field(default=3600.0, gt=0)
    oidc_jwks_refetch_seconds: float = Field(default=30.0, ge=0)
    oidc_timeout_seconds: float = Field(default=5.0, gt=0)
    # Signed requests (HMAC per key): a timestamp further than this from now is refused, and nonces are
    # remembered this long.
    signature_window_seconds: int = Field(default=300, ge=1, le=3600)
    # Per-key request counts are kept in memory and written this often (and at shutdown).
    key_usage_flush_seconds: float = Field(default=10.0, gt=0, le=3600)
    # Per-tenant usage counts (requests, searches, writes, jobs, embedded texts) are added to the store this
    # often by each process; a snapshot of the deployment's size for capacity forecasts is taken this often
    # by each API process (the day's last one is kept).
    usage_flush_seconds: float = Field(default=10.0, gt=0, le=3600)
    capacity_snapshot_seconds: float = Field(default=3600.0, gt=0, le=86400)

    # Passwords of human accounts: argon2id cost (OWASP's minimum by default: 19 MiB, 2 passes, 1 lane;
    # tests lower it), and the policy every new password meets. A password shorter than
    # password_passphrase_length needs password_min_classes of lower/upper/digit/symbol.
    argon2_memory_kib: int = Field(default=19_456, ge=8, le=4_194_304)
    argon2_time_cost: int = Field(default=2, ge=1, le=100)
    argon2_parallelism: int = Field(default=1, ge=1, le=64)
    password_min_length: int = Field(default=12, ge=8, le=256)
    password_max_bytes: int = Field(default=1024, ge=64, le=4096)
    password_passphrase_length: int = Field(default=16, ge=8, le=256)
    password_min_classes: int = Field(default=3, ge=1, le=4)
    password_history: int = Field(default=5, ge=0, le=50)
    # Days after which a password must be changed at the next login (must_change_password); 0: never.
    password_expiry_days: int = Field(default=0, ge=0, le=3650)
    # Lockout per (tenant, email): after login_max_failures failures in a row it is locked for
    # login_lockout_seconds, doubled on every lockout after that (at most login_lockout_max_seconds).
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_lockout_seconds: float = Field(default=60.0, gt=0, le=86_400)
    login_lockout_max_seconds: float = Field(default=3600.0, gt=0, le=30 * 86_400)

    # Step-up: creating keys, erasing memories and changing an account's roles from a login session need a
    # second-factor check (MFA at login, or POST /api/v1/auth/step-up) at most this old; 0: no such check.
    step_up_max_age_seconds: int = Field(default=900, ge=0, le=86_400)
    # Accounts holding one of these roles must use MFA: a login session of theirs without a second factor
    # may only enrol (everything else answers 403 MFA_ENROLMENT_REQUIRED). JSON list, e.g. ["tenant-admin"].
    mfa_required_roles: list[str] = Field(default_factory=list, max_length=100)
    # Name shown by authenticator apps for MemBank's TOTP entries.
    mfa_issuer: str = Field(default="MemBank", min_length=1, max_length=100)

    store: Literal["sqlite", "postgres"] = "sqlite"
    # The PostgreSQL system of record (store=postgres): postgresql://user:password@host:port/database.
    database_url: SecretStr | None = Field(default=None, validate_default=True)
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # Longest a single SQL statement may run on PostgreSQL before the server cancels it (0: no limit).
    database_statement_timeout_ms: int = Field(default=30_000, ge=0)
    database_application_name: str = Field(default="membank", min_length=1, max_length=63)
    # qdrant-edge: embedded in the serving process (data dir); pgvector: in the PostgreSQL of store=postgres;
    # qdrant: a Qdrant server (qdrant_url).
    vector_index: Literal["qdrant-edge", "pgvector", "qdrant"] = "qdrant-edge"
    # The Qdrant server index (vector_index=qdrant): http(s)://host:6333; https verifies the server's
    # certificate against the system CAs, or against qdrant_ca_bundle (a PEM file) when set.
    qdrant_url: str | None = Field(default=None, validate_default=True)
    qdrant_api_key: SecretStr | None = None
    qdrant_ca_bundle: FilePath | None = None
    qdrant_collection: str = Field(default="membank", pattern=r"^[A-Za-z0-9_-]{1,255}$")
    # Per request; qdrant-client takes whole seconds.
    qdrant_timeout_seconds: int = Field(default=10, ge=1)
    qdrant_retries: int = Field(default=3, ge=0)
    qdrant_backoff_seconds: float = Field(default=0.2, ge=0)
    qdrant_breaker_failures: int = Field(default=5, ge=1)
    qdrant_breaker_reset_seconds: float = Field(default=10.0, gt=0)
    embedder: Literal["onnx", "openai"] = "onnx"

    embedding_dim: int = Field(default=384, gt=0)
    embedder_batch_size: int = Field(default=64, gt=0)
    embedder_max_wait_ms: float = Field(default=0.0, ge=0)
    embedder_threads: int = Field(default=2, gt=0)
    embedder_max_tokens: int = Field(default=256, gt=8)
    # Distinct texts in flight (queued or being embedded) past which requests get 503 OVERLOADED; jobs wait.
    embedder_max_pending: int = Field(default=1024, gt=0)
    openai_embedder_base_url: str = "http://127.0.0.1:11434/v1"
    openai_embedder_model: str = "text-embedding-3-small"
    openai_embedder_api_key: SecretStr | None = None
    openai_embedder_timeout: float = Field(default=30.0, gt=0)

    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    # Prices by the model name the server answers with, for membank_llm_cost_total and usage reports, e.g.
    # {"gpt-4o-mini": {"prompt": 0.15, "completion": 0.6}}. A model without a price costs nothing there.
    llm_prices: dict[str, LlmPrice] = Field(default_factory=dict, max_length=1000)
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0)
    llm_backoff_seconds: float = Field(default=0.5, ge=0)
    llm_max_tokens: int = Field(default=1024, gt=0)
    llm_breaker_failures: int = Field(default=5, ge=1)
    llm_breaker_reset_seconds: float = Field(default=30.0, gt=0)

    extraction_window_turns: int = Field(default=20, gt=0, le=200)

    # --- Redis, shared by every API instance and worker when MEMBANK_REDIS_URL is set: the cache's L2
    # (docs/caching.md), rate limits, locks and idempotency reservations (docs/rate-limits.md).
    # redis://[:password@]host:port/db, rediss:// (TLS) or unix://; never logged.
    redis_url: SecretStr | None = None
    # Put before every Redis key, so several deployments can share one Redis.
    redis_key_prefix: str = Field(default="membank:", min_length=1, max_length=64)
    # Connect and read timeout of one Redis call: a slow or gone Redis costs at most this, then the pause.
    redis_socket_timeout_seconds: float = Field(default=0.25, gt=0, le=10)
    # Pause after a Redis failure before it is tried again (the cache doubles it with each failure up to the
    # max; rate limits and locks use their fallback for the first pause, then try again).
    redis_breaker_seconds: float = Field(default=1.0, gt=0)
    redis_breaker_max_seconds: float = Field(default=30.0, gt=0)
    # Query embeddings (not user-specific: keyed by model and text digest).
    embedding_cache_size: int = Field(default=20_000, ge=0)
    embedding_cache_ttl_seconds: float = Field(default=7 * 86_400.0, ge=0)
    # Search results and synthesized contexts, per tenant, user and request; a write makes them unreachable.
    search_cache_size: int = Field(default=2_000, ge=0)
    search_cache_ttl_seconds: float = Field(default=60.0, ge=0)
    context_cache_size: int = Field(default=2_000, ge=0)
    context_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    # Warm-up at start: this many of the most recently used query embeddings, from Redis into L1.
    cache_warmup_count: int = Field(default=2_000, ge=0)
    cache_warmup_seconds: float = Field(default=2.0, ge=0)
    cache_recent_limit: int = Field(default=10_000, ge=0)

    run_workers: bool = True
    # `membank worker` serves its own /metrics on this port (MEMBANK_HOST), for Prometheus to scrape each
    # worker process like each API process; unset: no endpoint.
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    workers: int = Field(default=2, ge=0)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_max_attempts: int = Field(default=5, ge=1)
    job_backoff_seconds: float = Field(default=1.0, ge=0)
    job_poll_seconds: float = Field(default=0.2, gt=0)
    # Unfinished (queued, processing, failed) jobs one tenant may have; past it enqueues get 429 JOB_QUEUE_FULL.
    job_queue_max_per_tenant: int = Field(default=10_000, gt=0)
    batch_chunk_size: int = Field(default=256, gt=0)
    batch_max_items: int = Field(default=10_000, gt=0)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # How often the serving process probes its vector index (present, writable, answering) and acts on it.
    index_probe_seconds: float = Field(default=2.0, gt=0)
    # Index writes are refused (kept in the outbox) below this much free disk: a full disk faults mmaps.
    index_min_free_bytes: int = Field(default=64 * 2**20, ge=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # --- Diagnosis: GET /api/v1/admin/diagnostics and `membank doctor` (docs/observability.md "Diagnosis").
    # The oldest outbox item waiting longer than this: the index is not being brought up to date (fail).
    diagnostics_outbox_max_lag_seconds: float = Field(default=60.0, gt=0)
    # A processing job whose lease ran out longer ago than this is stuck: no worker re-claims it (fail).
    # Leases that ran out more recently are a warning (a worker died; the next free one takes the job).
    diagnostics_stuck_job_seconds: float = Field(default=60.0, ge=0)
    # A job still leased but running longer than this is reported (warn).
    diagnostics_long_job_seconds: float = Field(default=3600.0, gt=0)
    # Jobs that went dead within this window are reported (warn).
    diagnostics_dead_job_window_seconds: float = Field(default=86_400.0, gt=0)
    # Free disk of the data directory below this is a warning (below MEMBANK_INDEX_MIN_FREE_BYTES a failure:
    # index writes are refused there).
    diagnostics_min_free_disk_bytes: int = Field(default=2**30, ge=0)
    # Memory available to the process (the host's, or its cgroup's limit) below this is a warning.
    diagnostics_min_free_memory_bytes: int = Field(default=256 * 2**20, ge=0)
    # Routes whose p95 latency over the last hour (in this process) is above this are reported (warn), the
    # slowest diagnostics_slow_routes_top of them shown.
    diagnostics_slow_route_p95_seconds: float = Field(default=1.0, gt=0)
    diagnostics_slow_routes_top: int = Field(default=5, ge=1, le=50)
    # LLM calls failing, or extractions falling back to the heuristic tier, in a larger share than this since
    # the process started are reported (warn), once at least diagnostics_llm_min_calls were made.
    diagnostics_llm_max_error_ratio: float = Field(default=0.2, ge=0, le=1)
    # Embedding calls of the last 10 minutes slower per text than this many times those of the 50 minutes
    # before them (at least 20 calls in each) are a latency regression.
    diagnostics_embedding_slowdown_ratio: float = Field(default=2.0, gt=1)
    diagnostics_llm_min_calls: int = Field(default=20, ge=1)
    # The serving process repairs what is safe to repair on its own every diagnostics_auto_repair_seconds:
    # re-queues jobs whose lease ran out and brings a drifted index in line (each act in the audit log).
    diagnostics_auto_repair: bool = False
    diagnostics_auto_repair_seconds: float = Field(default=300.0, gt=0)

    max_request_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # Bodies of the bulk routes (batch writes, imports, conversations to process) may be this large instead.
    max_bulk_request_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    # Bounds of the JSON values the API stores or compares (models/bounds.py); beyond one: 400 naming it.
    # Nesting of a whole request body; Qdrant Edge's payload and WAL fail near 127 levels.
    max_json_depth: int = Field(default=32, ge=8, le=100)
    # Nesting of `metadata` and of each `source_refs` item (an object with a scalar is 1 level).
    max_metadata_depth: int = Field(default=10, ge=1, le=64)
    # Encoded (JSON) size of `metadata` and of each `source_refs` item.
    max_metadata_bytes: int = Field(default=16_384, gt=0)
    # Keys and list items of `metadata` or a `source_refs` item, counted over all levels.
    max_metadata_items: int = Field(default=1_000, gt=0)
    # Encoded (JSON) size of a search's `filters` tree.
    max_filter_bytes: int = Field(default=16_384, gt=0)
    search_candidates: int = Field(default=60, gt=0)
    # While the vector index cannot serve, search reads at most this many of the user's newest valid memories
    # from the system of record for its keyword (BM25) fallback.
    search_fallback_max_scan: int = Field(default=5_000, gt=0)
    # Fusion of the dense and keyword lists (see search/scoring.py): the shares are scaled per query by each
    # list's lead ("adaptive"); the base shares were tuned on LOCOMO (bench/locomo.py).
    search_fusion: Literal["adaptive", "score", "rrf"] = "adaptive"
    rrf_k: int = Field(default=10, gt=0)
    dense_weight: float = Field(default=0.6, ge=0)
    keyword_weight: float = Field(default=0.4, ge=0)
    recency_weight: float = Field(default=0.05, ge=0, le=0.5)
    importance_weight: float = Field(default=0.05, ge=0, le=0.5)

    # --- Rate limits and distributed locks (docs/rate-limits.md) ---
    # Requests per API key, and per tenant over all its keys; 0 turns a limit off. GCRA: a sustained rate of
    # N per period, with up to `burst` requests at once per minute (default: the per-minute limit itself).
    rate_limit_per_minute: int = Field(default=1_000, ge=0)
    rate_limit_per_day: int = Field(default=0, ge=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)
    rate_limit_tenant_per_minute: int = Field(default=0, ge=0)
    rate_limit_tenant_per_day: int = Field(default=0, ge=0)
    # JSON: {"<tenant id>": {"per_minute": 100, "per_day": 10000}} replaces that tenant's tenant limits.
    rate_limit_tenant_overrides: dict[str, TenantRateLimits] = Field(default_factory=dict)
    # Redis down: "open" serves unlimited (one warning per outage), "closed" answers 503 RATE_LIMITER_UNAVAILABLE.
    rate_limit_fail_mode: Literal["open", "closed"] = "open"
    # Lease of a per-user lock (consolidation, slot writes), renewed every sixth of it while held: how long
    # a crashed holder blocks its user, and how long locks wait when Redis fails before using the database.
    lock_ttl_seconds: float = Field(default=15.0, ge=0.5)

    # --- Request security (docs/security.md "Request security") ---
    # Proxies (CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are believed; empty: the socket peer is the
    # client. Name only your own load balancers: a trusted range lets its hosts claim any client address.
    trusted_proxies: list[str] = Field(default_factory=list)
    # How often an instance checks whether the IP rules changed (on any instance) and reloads them.
    ip_rules_refresh_seconds: float = Field(default=2.0, ge=0, le=3600)
    # Requests per client IP and minute that carry no valid credentials, and of the login/refresh routes.
    rate_limit_unauthenticated_per_minute: int = Field(default=100, ge=0)
    # CORS: browser origins allowed to call the API (empty: no CORS headers at all).
    cors_allowed_origins: list[str] = Field(default_factory=list)
    cors_allowed_methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"])
    cors_allowed_headers: list[str] = Field(
        default_factory=lambda: [
            "Authorization",
            "Content-Type",
            "X-API-Key",
            "X-Request-ID",
            "Idempotency-Key",
        ]
    )
    cors_allow_credentials: bool = False
    cors_max_age_seconds: int = Field(default=600, ge=0)

    api_url: str = "http://127.0.0.1:8080"
    api_key: SecretStr | None = None

    log_level: LogLevel = "INFO"
    # Levels of loggers (and everything under them) that differ from log_level, as JSON:
    # {"membank.search": "DEBUG", "sqlalchemy.engine": "INFO", "membank.access": "WARNING"}.
    log_levels: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*$")], LogLevel] = Field(
        default_factory=dict
    )
    # JSON lines; unset: JSON unless stderr is a terminal (then a console rendering).
    log_json: bool | None = None
    # Also drop memory content (content, query, messages... fields) and mask email addresses in every log line.
    log_redact_content: bool = False

    # Tracing: spans exported over OTLP/HTTP to this URL (e.g. http://collector:4318/v1/traces); unset: off.
    otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # Sent with every export, in the OTEL_EXPORTER_OTLP_HEADERS form: "authorization=Bearer x,tenant=y".
    otlp_headers: SecretStr | None = None
    otlp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Share of new traces recorded (a caller's traceparent decides for its own trace).
    trace_sample_ratio: float = Field(default=1.0, ge=0, le=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Lowest priority: the secret files, in the directory that the sources above named.
        return init_settings, env_settings, dotenv_settings, _SecretFiles(settings_cls)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if info.data.get("store") == "postgres":
                raise ValueError("required when MEMBANK_STORE=postgres")
            return None
        if value.get_secret_value().split("://", 1)[0] not in _POSTGRES_SCHEMES:
            raise ValueError("must be a PostgreSQL URL: postgresql://user:password@host:port/database")
        return value

    @field_validator("qdrant_url")
    @classmethod
    def _qdrant_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("vector_index") == "qdrant":
                raise ValueError("required when MEMBANK_VECTOR_INDEX=qdrant")
            return None
        if value.split("://", 1)[0] not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL, e.g. https://qdrant.example:6333")
        return value

    @field_validator("auth_secret_key")
    @classmethod
    def _auth_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                key = base64.b64decode(value.get_secret_value().strip(), validate=True)
            except binascii.Error:
                raise ValueError("must be base64 (`openssl rand -base64 32`)") from None
            if len(key) != 32:
                raise ValueError("must decode to 32 bytes (`openssl rand -base64 32`)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().split("://", 1)[0] not in _REDIS_SCHEMES:
            raise ValueError("must be a Redis URL: redis://[:password@]host:port/db, rediss:// or unix://")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or CIDR: {cidr!r}") from None
        return value

    @model_validator(mode="after")
    def _no_wildcard_origin_with_credentials(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_allowed_origins:
            raise ValueError(
                "MEMBANK_CORS_ALLOWED_ORIGINS='*' with MEMBANK_CORS_ALLOW_CREDENTIALS=true would let any site "
                "call the API with a user's credentials: list the origins"
            )
        return self

    @model_validator(mode="after")
    def _auth_off_only_on_loopback(self) -> Settings:
        if not self.auth_enabled and not _is_loopback(self.host):
            raise ValueError(
                "MEMBANK_AUTH_ENABLED=false is allowed only when MEMBANK_HOST is a loopback address"
            )
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer is not None:
            missing = [name for name in ("oidc_jwks_url", "oidc_audience") if getattr(self, name) is None]
            if missing:
                raise ValueError(
                    f"MEMBANK_OIDC_ISSUER needs {', '.join('MEMBANK_' + m.upper() for m in missing)}"
                )
            assert self.oidc_jwks_url is not None
            if self.oidc_jwks_url.split("://", 1)[0] not in ("http", "https"):
                raise ValueError("MEMBANK_OIDC_JWKS_URL must be an http:// or https:// URL")
        return self

    @model_validator(mode="after")
    def _pgvector_only_on_postgres(self) -> Settings:
        if self.vector_index == "pgvector" and self.store != "postgres":
            raise ValueError(
                "MEMBANK_VECTOR_INDEX=pgvector keeps the index in the PostgreSQL system of record: "
                "it needs MEMBANK_STORE=postgres (and MEMBANK_DATABASE_URL)"
            )
        return self

    @model_validator(mode="after")
    def _metadata_fits_in_a_body(self) -> Settings:
        # metadata sits at most three levels down in a body (memories[i].metadata)
        if self.max_metadata_depth + 3 > self.max_json_depth:
            raise ValueError("MEMBANK_MAX_METADATA_DEPTH must be at least 3 below MEMBANK_MAX_JSON_DEPTH")
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "membank.sqlite3"

    @property
    def auth_secret_key_path(self) -> Path:
        return self.data_dir / "auth-secret.key"

    @property
    def vector_path(self) -> Path:
        return self.data_dir / "vectors"


class _SecretFiles(SecretsSettingsSource):
    """Settings from the files of MEMBANK_SECRETS_DIR (or Settings(secrets_dir=...)).

    A directory that does not exist reads nothing here: the secrets_dir field's own validation then refuses it
    with an error naming MEMBANK_SECRETS_DIR, instead of the service starting without its secrets."""

    def __call__(self) -> dict[str, object]:
        named = self.current_state.get("secrets_dir")
        if named is None or not Path(named).is_dir():
            return {}
        self.secrets_dir = Path(named)
        return super().__call__()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
