"""Configuration risks, read from the settings alone: auth off, secrets anyone could guess, plain-text
traffic leaving the machine. A finding names the settings involved, never a value of a secret."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import SecretStr

from membank.config import Settings
from membank.diagnostics.findings import Detail, Finding

# Passwords and keys of examples and defaults (our docs' included): as good as public.
_EXAMPLE_SECRETS = frozenset(
    {
        "admin",
        "changeme",
        "change-me",
        "changeit",
        "default",
        "example",
        "membank",
        "password",
        "postgres",
        "secret",
        "test",
        "...",
    }
)
# An admin key shorter than this is within reach of guessing (generated keys carry 256 bits).
_MIN_ADMIN_KEY_LENGTH = 32


def _loopback(host: str | None) -> bool:
    if host is None or host == "localhost":
        return True  # no host: a Unix socket, or the engine's own default of the local machine
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth(settings: Settings) -> Finding:
    """Auth switched off: every caller on the machine acts as a tenant admin."""
    if settings.auth_enabled:
        return Finding.ok("config.auth", {"auth_enabled": True})
    return Finding(
        "config.auth",
        "warn",
        {"auth_enabled": False, "host": settings.host},
        "every local caller is an anonymous tenant admin: set MEMBANK_AUTH_ENABLED=true (the default) "
        "unless this is a development machine",
    )


def _weak(secret: SecretStr | None) -> bool:
    return secret is not None and secret.get_secret_value().strip().lower() in _EXAMPLE_SECRETS


def _url_password(url: SecretStr | None) -> SecretStr | None:
    if url is None:
        return None
    password = urlsplit(url.get_secret_value()).password
    return SecretStr(password) if password else None


def check_secrets(settings: Settings) -> Finding:
    """Default or example secrets, and an admin key short enough to guess."""
    risks: list[str] = []
    admin = settings.admin_api_key
    if admin is not None and (_weak(admin) or len(admin.get_secret_value()) < _MIN_ADMIN_KEY_LENGTH):
        risks.append("MEMBANK_ADMIN_API_KEY")
    for name, secret in (
        ("MEMBANK_DATABASE_URL", _url_password(settings.database_url)),
        ("MEMBANK_REDIS_URL", _url_password(settings.redis_url)),
        ("MEMBANK_QDRANT_API_KEY", settings.qdrant_api_key),
        ("MEMBANK_LLM_API_KEY", settings.llm_api_key),
        ("MEMBANK_OPENAI_EMBEDDER_API_KEY", settings.openai_embedder_api_key),
    ):
        if _weak(secret):
            risks.append(name)
    shared_key_file = settings.store == "postgres" and settings.auth_secret_key is None
    if not risks and not shared_key_file:
        return Finding.ok("config.secrets", {"weak": 0})
    detail: Detail = {"weak": len(risks), "settings": risks}
    if shared_key_file:
        detail["auth_secret_key_from_file"] = True
    if risks:
        return Finding(
            "config.secrets",
            "fail",
            detail,
            f"replace the default or example secrets of {', '.join(risks)} with long random ones "
            "(`openssl rand -base64 32`)" + (", and set MEMBANK_AUTH_SECRET_KEY" if shared_key_file else ""),
        )
    return Finding(
        "config.secrets",
        "warn",
        detail,
        "with PostgreSQL every instance must seal with the same key: set MEMBANK_AUTH_SECRET_KEY "
        "(`openssl rand -base64 32`) on all of them instead of the data directory's key file",
    )


def _plain_remote(url: str | None, secure_scheme: str) -> bool:
    if url is None:
        return False
    parts = urlsplit(url)
    return parts.scheme != secure_scheme and parts.scheme != "unix" and not _loopback(parts.hostname)


def _database_in_clear(settings: Settings) -> bool:
    if settings.database_url is None:
        return False
    parts = urlsplit(settings.database_url.get_secret_value())
    # libpq's sslmode=prefer (its default) falls back to plain text without a word: only these insist.
    insists = any(f"sslmode={mode}" in parts.query for mode in ("require", "verify-ca", "verify-full"))
    return not insists and not _loopback(parts.hostname)


def check_transport(settings: Settings) -> Finding:
    """Plain-text traffic that leaves the machine: the API bound beyond loopback without a TLS-terminating
    proxy in front (MemBank serves plain HTTP), and backends reached without TLS."""
    risks: list[str] = []
    if not _loopback(settings.host) and not settings.trusted_proxies:
        risks.append("MEMBANK_HOST")
    if settings.redis_url is not None and _plain_remote(settings.redis_url.get_secret_value(), "rediss"):
        risks.append("MEMBANK_REDIS_URL")
    if settings.vector_index == "qdrant" and _plain_remote(settings.qdrant_url, "https"):
        risks.append("MEMBANK_QDRANT_URL")
    if settings.store == "postgres" and _database_in_clear(settings):
        risks.append("MEMBANK_DATABASE_URL")
    if not risks:
        return Finding.ok("config.transport", {"plain_text": 0})
    return Finding(
        "config.transport",
        "warn",
        {"plain_text": len(risks), "settings": risks, "host": settings.host},
        "MemBank serves plain HTTP: bind MEMBANK_HOST to loopback behind a TLS-terminating proxy (listed in "
        "MEMBANK_TRUSTED_PROXIES); reach Redis with rediss://, Qdrant with https:// and PostgreSQL with "
        "sslmode=require or verify-full",
    )
