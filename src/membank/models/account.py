"""Human accounts of a tenant (people who log in), as opposed to the agent end users memories belong to."""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT_STATUSES = ("active", "disabled")


@dataclass(slots=True)
class UserAccount:
    """An account as stored. `roles` name built-in or custom roles; `user_ids` / `team_ids` bind it to the
    agent end users (and teams of them) that `own` / `team` permissions reach. Times are epoch seconds.
    `mfa_secret` is sealed (auth/secret_box.py), never the plain TOTP secret."""

    id: str
    tenant_id: str
    email: str
    display_name: str
    status: str
    roles: list[str]
    created_at: float
    updated_at: float
    user_ids: list[str] | None = None
    team_ids: list[str] | None = None
    password_hash: str | None = None
    password_changed_at: float | None = None
    must_change_password: bool = False
    mfa_secret: str | None = None
    mfa_enabled_at: float | None = None
    last_login_at: float | None = None


@dataclass(slots=True)
class ServiceAccount:
    """A non-human identity of a tenant that owns API keys; disabling it stops all of its keys at once.
    Times are epoch seconds."""

    id: str
    tenant_id: str
    name: str
    description: str
    created_at: float
    disabled_at: float | None = None
