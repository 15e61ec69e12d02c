"""Building the token side of auth from Settings: signing keys, access tokens, sessions, the SSO verifier
(bootstrap and the CLI call these; they take ports, never a backend)."""

from __future__ import annotations

from membank.auth.events import SecurityEvents
from membank.auth.oidc import OidcSettings, OidcVerifier
from membank.auth.passwords import PasswordPolicy, Passwords
from membank.auth.secret_box import SecretBox
from membank.auth.sessions import SessionPolicy, SessionService
from membank.auth.signing import SigningKeys
from membank.auth.tokens import AccessTokens
from membank.config import Settings
from membank.storage.ports import LockoutPolicy, LoginSessionRepository, RecordStore


def build_sessions(
    settings: Settings,
    store: RecordStore,
    events: SecurityEvents,
    box: SecretBox,
    *,
    login_sessions: LoginSessionRepository,
) -> tuple[SigningKeys, SessionService]:
    """The signing keys (in the store) and the login-session service (access and refresh tokens) over
    `login_sessions` (the store's, or a cache over them)."""
    keys = SigningKeys(
        store.signing_keys,
        box,
        # Old keys verify until every token any instance may still sign with them has expired.
        retire_after=settings.access_token_ttl_seconds
        + settings.signing_key_cache_seconds
        + settings.jwt_leeway_seconds,
        cache_seconds=settings.signing_key_cache_seconds,
    )
    tokens = AccessTokens(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    policy = SessionPolicy(
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
        idle_timeout_seconds=settings.session_idle_timeout_seconds,
        absolute_timeout_seconds=settings.session_absolute_timeout_seconds,
        limit_per_account=settings.session_limit_per_account,
    )
    return keys, SessionService(login_sessions, tokens, events, policy)


def build_oidc(settings: Settings, store: RecordStore) -> OidcVerifier | None:
    """The verifier of the SSO issuer's tokens, when one is configured."""
    if settings.oidc_issuer is None:
        return None
    assert settings.oidc_jwks_url is not None and settings.oidc_audience is not None  # Settings checks it
    oidc = OidcSettings(
        issuer=settings.oidc_issuer,
        jwks_url=settings.oidc_jwks_url,
        audience=settings.oidc_audience,
        algorithms=tuple(settings.oidc_algorithms),
        tenant_claim=settings.oidc_tenant_claim,
        roles_claim=settings.oidc_roles_claim,
        user_ids_claim=settings.oidc_user_ids_claim,
        cache_seconds=settings.oidc_jwks_cache_seconds,
        refetch_seconds=settings.oidc_jwks_refetch_seconds,
        timeout_seconds=settings.oidc_timeout_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    return OidcVerifier(oidc, store.keys)


def build_passwords(settings: Settings) -> Passwords:
    """Password hashing at the configured argon2id cost, and the password policy."""
    policy = PasswordPolicy(
        min_length=settings.password_min_length,
        max_bytes=settings.password_max_bytes,
        passphrase_length=settings.password_passphrase_length,
        min_classes=settings.password_min_classes,
        history=settings.password_history,
        expiry_days=settings.password_expiry_days,
    )
    return Passwords(
        policy,
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )


def build_lockout(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.login_max_failures,
        base_seconds=settings.login_lockout_seconds,
        cap_seconds=settings.login_lockout_max_seconds,
    )
