"""Self-registration, where the tenant's policy allows it (docs/security.md, "Registration and the tenant
policy").

Nothing in the answer tells whether a tenant or an account exists: a tenant that does not exist answers
like one whose registration is closed, and an email that already has an account answers like a new one
(its password hashed all the same, nothing created, a security event recorded), so the client is always
told to log in. A new account gets the policy's role and is bound to one end user of its own (its id), so
`own` means its own memories.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from membank.accounts.policy import normalise_domain
from membank.accounts.service import normalise_email
from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.passwords import Passwords
from membank.errors import RegistrationClosed, RegistrationDomainRefused
from membank.models.account import UserAccount
from membank.storage.ports import AccountRepository, KeyRepository
from membank.storage.ports.tenant_policy import TenantPolicyRepository

CLOSED_MESSAGE = "this tenant does not take registrations"


@dataclass(frozen=True, slots=True)
class Registrant:
    tenant: str
    email: str
    password: str
    display_name: str = ""


class Registration:
    def __init__(
        self,
        accounts: AccountRepository,
        tenants: KeyRepository,
        policies: TenantPolicyRepository,
        passwords: Passwords,
        events: SecurityEvents,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = accounts
        self._tenants = tenants
        self._policies = policies
        self._passwords = passwords
        self._events = events
        self._clock = clock

    async def register(self, registrant: Registrant, origin: RequestOrigin) -> None:
        """Create the account (or, for a taken email, nothing); raise for a closed tenant, a refused domain
        or a password the policy refuses."""
        await asyncio.to_thread(self._register, registrant, origin)

    def _register(self, registrant: Registrant, origin: RequestOrigin) -> None:
        email = normalise_email(registrant.email)
        tenant = self._tenants.tenant_by_name(registrant.tenant)
        policy = self._policies.get(tenant.id) if tenant is not None else None
        if tenant is None or policy is None or not policy.allow_registration:
            self._record("denied", tenant.id if tenant else None, email, origin, reason="closed")
            raise RegistrationClosed(CLOSED_MESSAGE)
        if policy.registration_email_domains and _domain(email) not in policy.registration_email_domains:
            self._record("denied", tenant.id, email, origin, reason="domain")
            raise RegistrationDomainRefused(
                "this tenant takes registrations only from some email domains",
                details={"field": "email"},
            )
        self._passwords.check(registrant.password, email=email)
        now = self._clock()
        account_id = str(uuid.uuid4())
        account = UserAccount(
            id=account_id,
            tenant_id=tenant.id,
            email=email,
            display_name=registrant.display_name.strip() or email.split("@", 1)[0],
            status="active",
            roles=[policy.registration_role],
            created_at=now,
            updated_at=now,
            user_ids=[account_id],
            password_hash=self._passwords.hash(registrant.password),
            password_changed_at=now,
        )
        if self._accounts.create(account):
            self._record("ok", tenant.id, email, origin, account=account_id, role=policy.registration_role)
        else:
            self._record("duplicate", tenant.id, email, origin)

    def _record(
        self, outcome: str, tenant_id: str | None, email: str, origin: RequestOrigin, **details: str
    ) -> None:
        self._events.record(
            "account.register",
            outcome=outcome,
            actor="anonymous",
            tenant_id=tenant_id,
            target=f"email:{email}",
            origin=origin,
            details=details,
        )


def _domain(email: str) -> str | None:
    try:
        return normalise_domain(email.rsplit("@", 1)[-1])
    except ValueError:
        return None
