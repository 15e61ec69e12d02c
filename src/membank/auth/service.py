"""Authenticating requests: a presented key becomes a Principal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from membank.auth.key_usage import KeyUsageCounter
from membank.auth.keys import DEFAULT_TENANT, accepted_secret_hash, split_key
from membank.auth.rbac import BUILTIN_ROLES, RoleCatalog, legacy_roles, within_scopes
from membank.auth.tokens import looks_like_jwt
from membank.errors import Conflict, Forbidden, TenantNotFound, Unauthorized
from membank.models import ApiKey, Principal, Tenant
from membank.storage.ports import KeyRepository, ServiceAccountRepository

if TYPE_CHECKING:
    from membank.auth.oidc import OidcVerifier
    from membank.auth.sessions import SessionService

_TOUCH_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """An authenticated request: its principal and, for an API key, the key and the stored secret hash
    the presented secret matched (the HMAC key of signed requests)."""

    principal: Principal
    key: ApiKey | None = None
    secret_hash: str | None = None


class AuthService:
    """Verifies API keys against the system of record on every request, so a key revoked by any process
    sharing the store (`membank keys revoke`, another server) is refused from the very next request on.

    There is deliberately no cache: the check is one read by the key's unique prefix (an index lookup) and
    a SHA-256, measured at about 0.1 ms of a request that costs about 1.5 ms in-process (README, "Keys and
    revocation"). A cache would need a store-wide revocation stamp read on every request anyway. A key of
    a service account costs one more read (the account may have been disabled since)."""

    def __init__(
        self,
        keys: KeyRepository,
        *,
        enabled: bool,
        roles: RoleCatalog | None = None,
        sessions: SessionService | None = None,
        oidc: OidcVerifier | None = None,
        service_accounts: ServiceAccountRepository | None = None,
        usage: KeyUsageCounter | None = None,
    ) -> None:
        self._keys = keys
        self._sessions = sessions
        self._oidc = oidc
        self._enabled = enabled
        self._roles = roles or RoleCatalog()
        self._accounts = service_accounts
        self._usage = usage
        self._touched: dict[str, float] = {}

    @property
    def roles(self) -> RoleCatalog:
        return self._roles

    async def authenticate(self, presented: str | None) -> Principal:
        """The principal of a presented key or access token; Unauthorized when missing, unknown or revoked."""
        return (await self.authenticate_key(presented)).principal

    async def authenticate_key(self, presented: str | None) -> KeyCheck:
        """The principal of a presented key or access token, with the key itself (None for an access token
        and when auth is disabled)."""
        if not self._enabled:
            return KeyCheck(await self._anonymous_admin())
        if not presented:
            raise Unauthorized("missing API key: send X-API-Key or Authorization: Bearer <key>")
        # A JWT is an access token (of the SSO issuer it names, else of our login sessions); anything else
        # is an API key, checked as before.
        if looks_like_jwt(presented):
            return KeyCheck(await asyncio.to_thread(self._bearer, presented))
        return await asyncio.to_thread(self._verify, presented)

    def _bearer(self, token: str) -> Principal:
        if self._oidc is not None and self._oidc.issues(token):
            return self._oidc.authenticate(token)
        if self._sessions is None:
            raise Unauthorized("access tokens are not accepted here")
        return self._sessions.authenticate(token)

    def _verify(self, presented: str) -> KeyCheck:
        now = time.time()
        prefix, secret = split_key(presented)
        key = self._keys.key_by_prefix(prefix)
        matched = accepted_secret_hash(key, secret, now) if key is not None else None
        if key is None or key.revoked_at is not None or matched is None:
            raise Unauthorized("invalid or revoked API key")
        if key.expires_at is not None and key.expires_at.timestamp() <= now:
            raise Unauthorized("expired API key")
        if key.service_account_id is not None and self._accounts is not None:
            account = self._accounts.get(key.tenant_id, key.service_account_id)
            if account is None or account.disabled_at is not None:
                raise Unauthorized("the key's service account is disabled")
        # last_used_at is informational: written at most once a minute per key and process, so the hot path
        # stays a read. Usage counts are flushed in batches for the same reason.
        if now - self._touched.get(key.id, 0.0) > _TOUCH_EVERY_SECONDS:
            self._touched[key.id] = now
            self._keys.touch(key.id, now)
        if self._usage is not None:
            self._usage.count(key.id, now)
        return KeyCheck(self.key_principal(key), key, matched)

    def key_principal(self, key: ApiKey) -> Principal:
        """What a key may do: its roles' permissions under its scope ceiling, for its bound end users."""
        roles = key.roles if key.roles is not None else legacy_roles(key.scopes)
        permissions = within_scopes(self._roles.permissions(key.tenant_id, roles), key.scopes)
        return Principal(
            tenant_id=key.tenant_id,
            subject=f"api_key:{key.prefix}",
            roles=frozenset(roles),
            permissions=permissions,
            user_ids=frozenset(key.user_ids) if key.user_ids is not None else None,
            team_ids=frozenset(key.team_ids or ()),
        )

    async def in_tenant(self, principal: Principal, tenant_name: str) -> Principal:
        """The principal acting in the named tenant: only a platform admin may, and only by naming it."""
        if not principal.is_platform_admin:
            raise Forbidden(
                "only a platform admin may act in another tenant", details={"permission": "platform-admin"}
            )
        tenant = await asyncio.to_thread(self._keys.tenant_by_name, tenant_name)
        if tenant is None:
            raise TenantNotFound(f"tenant {tenant_name!r} not found")
        return replace(principal, tenant_id=tenant.id)

    async def tenants(self) -> list[Tenant]:
        """Every tenant (for platform admins)."""
        return await asyncio.to_thread(self._keys.tenants)

    async def create_tenant(self, name: str) -> Tenant:
        """A new tenant; 409 when the name is taken."""
        if await asyncio.to_thread(self._keys.tenant_by_name, name) is not None:
            raise Conflict(f"a tenant named {name!r} exists")
        return await asyncio.to_thread(self._keys.ensure_tenant, name)

    async def _anonymous_admin(self) -> Principal:
        tenant = await asyncio.to_thread(self._keys.ensure_tenant, DEFAULT_TENANT)
        return Principal(
            tenant_id=tenant.id,
            subject="anonymous",
            kind="anonymous",
            roles=frozenset({"tenant-admin"}),
            permissions=BUILTIN_ROLES["tenant-admin"],
        )
