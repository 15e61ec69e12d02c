"""Authenticating requests: a presented key becomes a Principal."""

from __future__ import annotations

import asyncio
import time

from membank.auth.keys import DEFAULT_TENANT, secret_matches, split_key
from membank.errors import Unauthorized
from membank.models import Principal
from membank.storage.ports import KeyRepository

_TOUCH_EVERY_SECONDS = 60.0


class AuthService:
    """Verifies API keys, with a short cache so the hot path does not hit the database every request.
    A revoked key stops working within `cache_seconds`."""

    def __init__(self, keys: KeyRepository, *, enabled: bool, cache_seconds: float) -> None:
        self._keys = keys
        self._enabled = enabled
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._touched: dict[str, float] = {}

    async def authenticate(self, presented: str | None) -> Principal:
        """The principal of a presented key; Unauthorized when missing, unknown or revoked."""
        if not self._enabled:
            return await self._anonymous_admin()
        if not presented:
            raise Unauthorized("missing API key: send X-API-Key or Authorization: Bearer <key>")
        now = time.monotonic()
        cached = self._cache.get(presented)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = await asyncio.to_thread(self._verify, presented)
        if self._cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[presented] = (principal, now + self._cache_seconds)
        return principal

    def _verify(self, presented: str) -> Principal:
        prefix, secret = split_key(presented)
        key = self._keys.key_by_prefix(prefix)
        if key is None or key.revoked_at is not None or not secret_matches(key, secret):
            raise Unauthorized("invalid or revoked API key")
        last = self._touched.get(key.id, 0.0)
        if time.time() - last > _TOUCH_EVERY_SECONDS:
            self._touched[key.id] = time.time()
            self._keys.touch(key.id, time.time())
        return Principal(
            tenant_id=key.tenant_id, subject=f"api_key:{key.prefix}", scopes=frozenset(key.scopes)
        )

    async def _anonymous_admin(self) -> Principal:
        tenant = await asyncio.to_thread(self._keys.ensure_tenant, DEFAULT_TENANT)
        return Principal(
            tenant_id=tenant.id, subject="anonymous", kind="anonymous", scopes=frozenset({"admin"})
        )
