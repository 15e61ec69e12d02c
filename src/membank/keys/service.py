"""The API-key lifecycle: create (without privilege escalation), list, rotate with a grace period, revoke,
usage; service accounts. Blocking: the endpoints call it in a worker thread."""

from __future__ import annotations

import builtins
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.key_usage import KeyUsageCounter
from membank.auth.keys import hash_secret, new_plaintext, new_secret, split_key
from membank.auth.rbac import RoleCatalog, legacy_roles, within_scopes
from membank.errors import Conflict, Forbidden, KeyNotFound, ServiceAccountNotFound, ValidationFailed
from membank.models import ApiKey, Principal, now_utc
from membank.models.account import ServiceAccount
from membank.models.principal import REACHES
from membank.observability.usage import utc_day
from membank.storage.ports import KeyRepository, ServiceAccountRepository

MAX_USAGE_DAYS = 366


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a new key may do and where it may be used (validated shapes: the API's KeyCreate)."""

    name: str
    roles: list[str]
    scopes: list[str] = field(default_factory=list)
    user_ids: list[str] | None = None
    team_ids: list[str] | None = None
    expires_at: datetime | None = None
    allowed_ips: list[str] | None = None
    require_signature: bool = False
    service_account_id: str | None = None


def _configured(key: ApiKey) -> bool:
    # Keys of MEMBANK_ADMIN_API_KEY have a prefix derived from their hash (auth/keys.py, split_key).
    return key.prefix.startswith("env")


class KeyAdmin:
    def __init__(
        self,
        keys: KeyRepository,
        accounts: ServiceAccountRepository,
        *,
        roles: RoleCatalog,
        events: SecurityEvents,
        usage: KeyUsageCounter,
    ) -> None:
        self._keys = keys
        self._accounts = accounts
        self._roles = roles
        self._events = events
        self._usage = usage

    def create(self, principal: Principal, spec: KeySpec, origin: RequestOrigin) -> tuple[ApiKey, str]:
        """A new key of the principal's tenant and its plaintext (shown this once)."""
        self._validate(principal, spec)
        try:
            self._refuse_escalation(principal, spec.roles, spec.scopes, spec.user_ids)
        except Forbidden as refusal:
            self._events.record_by(principal, "key.create", "denied", None, origin, reason=refusal.message)
            raise
        plaintext = new_plaintext()
        prefix, secret = split_key(plaintext)
        key = ApiKey(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            name=spec.name,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            scopes=list(spec.scopes),
            created_at=now_utc(),
            roles=list(spec.roles),
            user_ids=spec.user_ids,
            team_ids=spec.team_ids,
            service_account_id=spec.service_account_id,
            expires_at=spec.expires_at,
            allowed_ips=spec.allowed_ips,
            require_signature=spec.require_signature,
        )
        self._keys.create_key(key)
        self._events.record_by(principal, "key.create", "success", key.id, origin, roles=spec.roles)
        return key, plaintext

    def list_keys(self, principal: Principal) -> list[tuple[ApiKey, int]]:
        """The tenant's keys with their total request counts."""
        keys = self._keys.list_keys(principal.tenant_id)
        totals = self._keys.usage_totals([key.id for key in keys])
        return [(key, totals.get(key.id, 0) + sum(self._usage.pending(key.id).values())) for key in keys]

    def get(self, principal: Principal, key_id: str) -> tuple[ApiKey, int]:
        key = self._key(principal, key_id)
        total = self._keys.usage_totals([key.id]).get(key.id, 0)
        return key, total + sum(self._usage.pending(key.id).values())

    def rotate(
        self, principal: Principal, key_id: str, grace_seconds: int, origin: RequestOrigin
    ) -> tuple[ApiKey, str]:
        """A new secret for the key; the current one keeps working for `grace_seconds`."""
        key = self._key(principal, key_id)
        if key.revoked_at is not None:
            raise Conflict("a revoked key cannot be rotated", details={"key_id": key.id})
        # Rotating hands out the key's new secret: only to a caller who may hold everything the key grants.
        roles = key.roles if key.roles is not None else legacy_roles(key.scopes)
        try:
            self._refuse_escalation(principal, roles, key.scopes, key.user_ids)
        except Forbidden as refusal:
            self._events.record_by(principal, "key.rotate", "denied", key.id, origin, reason=refusal.message)
            raise
        if _configured(key):
            raise Conflict(
                "a key set by MEMBANK_ADMIN_API_KEY is rotated by changing that setting",
                details={"key_id": key.id},
            )
        secret = new_secret()
        until = time.time() + grace_seconds
        if not self._keys.rotate(key.id, secret_hash=hash_secret(secret), previous_valid_until=until):
            raise Conflict("the key was revoked meanwhile", details={"key_id": key.id})
        self._events.record_by(
            principal, "key.rotate", "success", key.id, origin, grace_seconds=grace_seconds
        )
        rotated = self._key(principal, key.id)
        return rotated, f"mbk_{key.prefix}_{secret}"

    def revoke(
        self, principal: Principal, key_id: str, origin: RequestOrigin, *, operator: bool = False
    ) -> ApiKey:
        """Revoke the key (idempotent: revoking a revoked key changes nothing). The key of
        MEMBANK_ADMIN_API_KEY only by the `operator` (the CLI, beside the data): start-up would bring it
        back, so an API client revoking it would be told it is gone while it is not for long."""
        key = self._key(principal, key_id)
        if _configured(key) and not operator:
            raise Conflict(
                "a key set by MEMBANK_ADMIN_API_KEY is revoked by removing that setting and `membank keys revoke`",
                details={"key_id": key.id},
            )
        if key.revoked_at is None and self._keys.revoke(key.id, time.time()):
            self._events.record_by(principal, "key.revoke", "success", key.id, origin)
        return self._key(principal, key.id)

    def usage(self, principal: Principal, key_id: str, days: int) -> builtins.list[dict[str, object]]:
        """Requests per UTC day over the last `days` days (days without requests left out)."""
        key = self._key(principal, key_id)
        since = utc_day(time.time() - (days - 1) * 86400)
        counts = dict(self._keys.usage(key.id, since_day=since))
        for day, pending in self._usage.pending(key.id).items():
            counts[day] = counts.get(day, 0) + pending
        return [{"day": day, "requests": counts[day]} for day in sorted(counts) if day >= since]

    def create_account(
        self, principal: Principal, name: str, description: str, origin: RequestOrigin
    ) -> ServiceAccount:
        account = ServiceAccount(str(uuid.uuid4()), principal.tenant_id, name, description, time.time())
        if not self._accounts.create(account):
            raise Conflict(f"a service account named {name!r} exists", details={"field": "name"})
        self._events.record_by(principal, "service_account.create", "success", account.id, origin)
        return account

    def accounts(self, principal: Principal) -> builtins.list[ServiceAccount]:
        return self._accounts.list(principal.tenant_id)

    def account(self, principal: Principal, account_id: str) -> ServiceAccount:
        found = self._accounts.get(principal.tenant_id, account_id)
        if found is None:
            raise ServiceAccountNotFound(f"no service account {account_id!r} in this tenant")
        return found

    def disable_account(self, principal: Principal, account_id: str, origin: RequestOrigin) -> ServiceAccount:
        """Disable the account: every key of it is refused from the next request on."""
        self.account(principal, account_id)
        if self._accounts.disable(principal.tenant_id, account_id, time.time()):
            self._events.record_by(principal, "service_account.disable", "success", account_id, origin)
        return self.account(principal, account_id)

    def _key(self, principal: Principal, key_id: str) -> ApiKey:
        key = self._keys.key_by_id(principal.tenant_id, key_id)
        if key is None:
            raise KeyNotFound(f"no key {key_id!r} in this tenant")
        return key

    def _validate(self, principal: Principal, spec: KeySpec) -> None:
        unknown = self._roles.unknown(principal.tenant_id, spec.roles)
        if unknown:
            raise ValidationFailed.field("roles", f"unknown roles {unknown}")
        if spec.expires_at is not None and spec.expires_at <= now_utc() + timedelta(seconds=1):
            raise ValidationFailed.field("expires_at", "must lie in the future")
        if spec.service_account_id is not None:
            account = self._accounts.get(principal.tenant_id, spec.service_account_id)
            if account is None or account.disabled_at is not None:
                raise ValidationFailed.field("service_account_id", "no active service account of that id")

    def _refuse_escalation(
        self,
        principal: Principal,
        roles: builtins.list[str],
        scopes: builtins.list[str],
        user_ids: builtins.list[str] | None,
    ) -> None:
        # A key may grant only what its creator holds, at no wider scope, for no other end users.
        granted = within_scopes(self._roles.permissions(principal.tenant_id, roles), scopes)
        for permission in sorted(granted):
            held = principal.reach(permission.resource, permission.action)
            if held is None or REACHES.index(held) < REACHES.index(permission.scope):
                raise Forbidden(f"the key grants {permission}, which the caller does not hold")
        bound = principal.user_ids
        if bound is not None and (user_ids is None or not set(user_ids) <= bound):
            raise Forbidden("the key must be bound to end users the caller is bound to")
