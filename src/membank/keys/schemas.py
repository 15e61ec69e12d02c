"""Request and response shapes of the key and service-account endpoints."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from membank.memories.schemas import NOT_BLANK_PATTERN, Identifier, UserId, UtcDatetime, not_blank
from membank.models import ApiKey, from_epoch, iso
from membank.models.account import ServiceAccount
from membank.models.principal import ALL_SCOPES

MAX_GRACE_SECONDS = 7 * 24 * 3600
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$")]
# Kept as sent: stripping before the length check let a name past the documented 100 characters in.
Name = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(not_blank),
    Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN}),
]


def _known_scope(value: str) -> str:
    if value not in ALL_SCOPES:
        raise ValueError(f"unknown scope; known: {', '.join(ALL_SCOPES)}")
    return value


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError("must be an IP address or CIDR network such as 203.0.113.0/24") from None


Scope = Annotated[str, AfterValidator(_known_scope)]
Cidr = Annotated[str, StringConstraints(max_length=64), AfterValidator(_cidr)]


class KeyCreate(BaseModel):
    """A new key. `roles` say what it may do (built-in or the tenant's custom roles), `scopes` cap it."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    roles: list[RoleName] = Field(default_factory=lambda: ["service"], min_length=1, max_length=20)
    scopes: list[Scope] = Field(default_factory=list, max_length=len(ALL_SCOPES))
    user_ids: list[UserId] | None = Field(default=None, max_length=1000)
    team_ids: list[Identifier] | None = Field(default=None, max_length=100)
    expires_at: UtcDatetime | None = None
    allowed_ips: list[Cidr] | None = Field(default=None, min_length=1, max_length=100)
    require_signature: bool = False
    service_account_id: Identifier | None = None


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(default=0, ge=0, le=MAX_GRACE_SECONDS)


class ServiceAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Annotated[str, StringConstraints(max_length=500)] = ""


def _epoch_iso(value: float | None) -> str | None:
    return iso(from_epoch(value)) if value is not None else None


def key_out(key: ApiKey, *, requests: int) -> dict[str, Any]:
    """A key as listed: never its secret or any hash of it."""
    return {
        "id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "roles": key.roles,
        "scopes": key.scopes,
        "user_ids": key.user_ids,
        "team_ids": key.team_ids,
        "service_account_id": key.service_account_id,
        "allowed_ips": key.allowed_ips,
        "require_signature": key.require_signature,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "previous_secret_valid_until": _epoch_iso(key.previous_valid_until),
        "requests": requests,
    }


def service_account_out(account: ServiceAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "description": account.description,
        "created_at": _epoch_iso(account.created_at),
        "disabled_at": _epoch_iso(account.disabled_at),
    }


class KeyOut(BaseModel):
    """A key as listed: never its secret or a hash of it. `requests`: all requests it made so far."""

    id: str
    prefix: str
    name: str
    roles: list[str] | None = Field(description="None: a key from before roles (its scopes say it all)")
    scopes: list[str]
    user_ids: list[str] | None
    team_ids: list[str] | None
    service_account_id: str | None
    allowed_ips: list[str] | None
    require_signature: bool
    created_at: str | None
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None
    previous_secret_valid_until: str | None = Field(description="Until when the pre-rotation secret works")
    requests: int


class IssuedKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown in this answer only")


class UsageDay(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD")
    requests: int


class KeyUsageOut(BaseModel):
    key_id: str
    days: list[UsageDay] = Field(description="Days with requests, oldest first")


class ServiceAccountOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: str | None
    disabled_at: str | None


class KeyList(BaseModel):
    keys: list[KeyOut]


class ServiceAccountList(BaseModel):
    service_accounts: list[ServiceAccountOut]
