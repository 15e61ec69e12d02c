"""Each tenant's authentication policy (docs/security.md, "Registration and the tenant policy").

A tenant admin sets it for their own tenant (a platform admin for another through the tenant header, on
record like every cross-tenant act). Registration grants at most what the built-in `user` role grants: a
self-registered account can never administer anything.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, replace

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.rbac import BUILTIN_ROLES, RoleCatalog, is_builtin
from membank.errors import ValidationFailed
from membank.models import Principal
from membank.storage.ports.tenant_policy import TenantPolicy, TenantPolicyRepository

MAX_EMAIL_DOMAINS = 100
_REGISTRATION_CEILING = BUILTIN_ROLES["user"]
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_domain(domain: str) -> str:
    """The lower-case ASCII (IDNA) form of an email domain; ValueError when it is not a domain name."""
    text = domain.strip().rstrip(".").lower()
    try:
        ascii_form = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(domain) from None
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(domain)
    return ascii_form


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """The fields a PUT sets; None leaves a field as it is."""

    allow_registration: bool | None = None
    registration_role: str | None = None
    registration_email_domains: list[str] | None = None
    mfa_required: bool | None = None


class TenantPolicies:
    def __init__(
        self, repository: TenantPolicyRepository, catalog: RoleCatalog, events: SecurityEvents
    ) -> None:
        self._repository = repository
        self._catalog = catalog
        self._events = events

    async def get(self, tenant_id: str) -> TenantPolicy:
        return await asyncio.to_thread(self._repository.get, tenant_id)

    async def change(self, principal: Principal, change: PolicyChange, origin: RequestOrigin) -> TenantPolicy:
        """Validate every field first (nothing is stored on an error), then store and record the change."""
        tenant_id = principal.tenant_id
        current = await self.get(tenant_id)
        domains = current.registration_email_domains
        if change.registration_email_domains is not None:
            domains = _domains(change.registration_email_domains)
        role = current.registration_role
        if change.registration_role is not None:
            role = await asyncio.to_thread(self._registration_role, tenant_id, change.registration_role)
        updated = replace(
            current,
            allow_registration=_or(change.allow_registration, current.allow_registration),
            registration_role=role,
            registration_email_domains=domains,
            mfa_required=_or(change.mfa_required, current.mfa_required),
            updated_at=time.time(),
        )
        await asyncio.to_thread(self._repository.put, updated)
        await self._events.arecord(
            "tenant_policy_change",
            outcome="ok",
            actor=principal.subject,
            tenant_id=tenant_id,
            target=f"tenant:{tenant_id}",
            origin=origin,
            details={
                "allow_registration": updated.allow_registration,
                "registration_role": updated.registration_role,
                "registration_email_domains": list(updated.registration_email_domains),
                "mfa_required": updated.mfa_required,
            },
        )
        return updated

    def _registration_role(self, tenant_id: str, name: str) -> str:
        if self._catalog.unknown(tenant_id, [name]):
            raise ValidationFailed.field("registration_role", f"no role {name!r} in this tenant")
        if not self._catalog.permissions(tenant_id, [name]) <= _REGISTRATION_CEILING:
            kind = "built-in role" if is_builtin(name) else "role"
            raise ValidationFailed.field(
                "registration_role",
                f"the {kind} {name!r} grants more than the `user` role (own memories): "
                "a self-registered account may not get it",
            )
        return name


def _or(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _domains(values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_EMAIL_DOMAINS:
        raise ValidationFailed.field("registration_email_domains", f"at most {MAX_EMAIL_DOMAINS} domains")
    normalised: list[str] = []
    for index, value in enumerate(values):
        try:
            domain = normalise_domain(value)
        except ValueError:
            raise ValidationFailed.field(
                f"registration_email_domains[{index}]", "must be a domain name such as example.com"
            ) from None
        if domain not in normalised:
            normalised.append(domain)
    return tuple(normalised)
