"""API key format, hashing and lifecycle.

A key reads ``mbk_<prefix>_<secret>``: the prefix is public and finds the stored row, the secret is kept
only as a SHA-256 hash. Keys are 256-bit random, so a fast hash is the right tool (a slow password hash
would add tens of milliseconds to every request without adding safety). A key given by the operator in
MEMBANK_ADMIN_API_KEY may have any form; its lookup prefix is derived from its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from membank.models import ApiKey, now_utc
from membank.models.principal import ALL_SCOPES
from membank.storage.ports import KeyRepository

DEFAULT_TENANT = "default"
DEFAULT_SCOPES = ("memories:read", "memories:write", "jobs:read")
_PREFIX_LENGTH = 12


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str]:
    """(lookup prefix, secret) of a presented key."""
    parts = raw.split("_")
    if len(parts) == 3 and parts[0] == "mbk" and len(parts[1]) == _PREFIX_LENGTH and parts[2]:
        return parts[1], parts[2]
    return "env" + hash_secret(raw)[:_PREFIX_LENGTH], raw


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.secret_hash, hash_secret(secret))


def accepted_secret_hash(key: ApiKey, secret: str, now: float) -> str | None:
    """The stored hash a presented secret matches: the current one, or the one before the last rotation
    while its grace period lasts; None otherwise."""
    presented = hash_secret(secret)
    if hmac.compare_digest(key.secret_hash, presented):
        return key.secret_hash
    previous, until = key.previous_secret_hash, key.previous_valid_until
    if (
        previous is not None
        and until is not None
        and now < until
        and hmac.compare_digest(previous, presented)
    ):
        return previous
    return None


def new_plaintext() -> str:
    """A fresh random key `mbk_<prefix>_<secret>` (the secret never contains the separator)."""
    return f"mbk_{secrets.token_hex(_PREFIX_LENGTH // 2)}_{new_secret()}"


def new_secret() -> str:
    return secrets.token_urlsafe(32).replace("_", "-")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    plaintext: str


def issue_key(
    keys: KeyRepository,
    *,
    tenant_name: str,
    name: str,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    plaintext: str | None = None,
) -> IssuedKey:
    """Create a key for a tenant (created if missing); the plaintext is returned once and never stored."""
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; known: {list(ALL_SCOPES)}")
    tenant = keys.ensure_tenant(tenant_name)
    if plaintext is None:
        plaintext = new_plaintext()
    prefix, secret = split_key(plaintext)
    key = ApiKey(
        id=str(uuid.uuid4()),
        tenant_id=tenant.id,
        name=name,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=list(scopes),
        created_at=now_utc(),
    )
    keys.create_key(key)
    return IssuedKey(key, plaintext)


def ensure_admin_key(keys: KeyRepository, configured: str | None) -> IssuedKey | None:
    """Make sure an admin key exists. With `configured`, that key; otherwise, on a store without any
    key, a generated one. Returns the key only when it was created now.

    A configured key that was revoked (`membank keys revoke`) stays revoked: bringing it back on the next
    start would undo the operator's response to a leak. That, and a configured key whose prefix belongs to
    another key, is a ValueError saying what to do (never showing the key)."""
    if configured is not None:
        prefix, secret = split_key(configured)
        existing = keys.key_by_prefix(prefix)
        if existing is not None:
            if not secret_matches(existing, secret):
                raise ValueError(
                    "MEMBANK_ADMIN_API_KEY shares its prefix with another key; fix: configure a new key"
                )
            if existing.revoked_at is not None:
                raise ValueError(
                    "MEMBANK_ADMIN_API_KEY names a revoked key and stays revoked; fix: configure a new key"
                )
            return None
        return issue_key(
            keys,
            tenant_name=DEFAULT_TENANT,
            name="admin (MEMBANK_ADMIN_API_KEY)",
            scopes=("admin",),
            plaintext=configured,
        )
    if keys.list_keys(None):
        return None
    return issue_key(keys, tenant_name=DEFAULT_TENANT, name="admin (generated)", scopes=("admin",))
