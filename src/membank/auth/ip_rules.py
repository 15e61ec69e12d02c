"""IP allow and deny rules: global ones gate every request before authentication, a tenant's apply once
the principal is known.

Semantics, per scope: a deny rule covering the address always wins; otherwise, when the scope has any allow
rule, only addresses an allow rule covers pass; a scope without rules lets everyone pass. A request must pass
the global scope and then its tenant's.

Every instance keeps the whole rule set in memory and checks the store's revision (count and newest rule)
at most every `refresh_seconds`, so a rule added or removed on any instance is in force everywhere within
that time, without a restart; a change made here is in force here at once.
"""

from __future__ import annotations

import asyncio
import builtins
import ipaddress
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.errors import BackendUnavailable, Conflict, IpDenied, IpRuleNotFound, ValidationFailed
from membank.storage.ports.ip_rules import IpRule, IpRuleAction, IpRuleRepository, IpRulesRevision

log = structlog.get_logger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_NOTE_LENGTH = 500
# A denied address is recorded as a security event at most this often (per address and scope): a flood of
# refused requests must not become a flood of writes.
_EVENT_EVERY_SECONDS = 60.0


def normalise_cidr(cidr: str) -> str:
    """The canonical form of an address or CIDR (host bits dropped); ValidationFailed naming `cidr`."""
    try:
        return str(ipaddress.ip_network(cidr.strip(), strict=False))
    except ValueError:
        raise ValidationFailed.field(
            "cidr", "must be an IPv4 or IPv6 address or CIDR, e.g. 203.0.113.0/24 or 2001:db8::/32"
        ) from None


@dataclass(frozen=True, slots=True)
class _Compiled:
    allow: tuple[IpNetwork, ...]
    deny: tuple[IpNetwork, ...]

    @classmethod
    def of(cls, rules: Iterable[IpRule]) -> _Compiled:
        listed = list(rules)
        return cls(
            tuple(ipaddress.ip_network(r.cidr, strict=False) for r in listed if r.action == "allow"),
            tuple(ipaddress.ip_network(r.cidr, strict=False) for r in listed if r.action == "deny"),
        )

    def allows(self, ip: str | None) -> bool:
        if not self.allow and not self.deny:
            return True
        address = _address(ip)
        if address is None:  # an unknown address passes deny rules but no allow list
            return not self.allow
        if any(address in network for network in self.deny):
            return False
        return not self.allow or any(address in network for network in self.allow)


_OPEN = _Compiled((), ())


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ip is None:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is matched as the IPv4 address it is.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def rules_allow(rules: Iterable[IpRule], ip: str | None) -> bool:
    """Whether `ip` passes these rules of one scope."""
    return _Compiled.of(rules).allows(ip)


class IpRules:
    """The rule set as this instance enforces it, and its administration."""

    def __init__(
        self, repository: IpRuleRepository, events: SecurityEvents, *, refresh_seconds: float
    ) -> None:
        self._repository = repository
        self._events = events
        self._refresh_seconds = refresh_seconds
        self._checked_at = float("-inf")
        self._revision: IpRulesRevision | None = None
        self._global = _OPEN
        self._tenants: dict[str, _Compiled] = {}
        self._lock = asyncio.Lock()
        self._recorded: dict[tuple[str | None, str | None], float] = {}

    # --- enforcement ---

    async def check_global(self, origin: RequestOrigin) -> None:
        """IpDenied when the global rules exclude the request's address."""
        await self._fresh()
        if not self._global.allows(origin.ip):
            await self._refused(None, origin)
            raise IpDenied("requests from this address are not allowed", details={"scope": "global"})

    async def check_tenant(self, tenant_id: str, origin: RequestOrigin) -> None:
        """IpDenied when the tenant's rules exclude the request's address."""
        await self._fresh()
        if not self._tenants.get(tenant_id, _OPEN).allows(origin.ip):
            await self._refused(tenant_id, origin)
            raise IpDenied(
                "this tenant does not allow requests from this address", details={"scope": "tenant"}
            )

    async def _fresh(self) -> None:
        if time.monotonic() - self._checked_at < self._refresh_seconds:
            return
        async with self._lock:
            if time.monotonic() - self._checked_at < self._refresh_seconds:
                return  # another request refreshed while this one waited
            try:
                revision = await asyncio.to_thread(self._repository.revision)
                if revision != self._revision:
                    rules = await asyncio.to_thread(self._repository.all)
                    self._load(rules)
                    self._revision = revision
            except BackendUnavailable as exc:
                # The store is down: the rules last read stay in force (every request would fail on the
                # store anyway); the next check is one interval away, not on every request.
                log.warning("ip_rules_refresh_failed", error=exc.message)
            self._checked_at = time.monotonic()

    def _load(self, rules: builtins.list[IpRule]) -> None:
        by_tenant: dict[str | None, list[IpRule]] = {}
        for rule in rules:
            by_tenant.setdefault(rule.tenant_id, []).append(rule)
        self._global = _Compiled.of(by_tenant.pop(None, []))
        self._tenants = {tenant: _Compiled.of(listed) for tenant, listed in by_tenant.items() if tenant}

    async def _refused(self, tenant_id: str | None, origin: RequestOrigin) -> None:
        now = time.monotonic()
        key = (tenant_id, origin.ip)
        if now - self._recorded.get(key, float("-inf")) < _EVENT_EVERY_SECONDS:
            return
        if len(self._recorded) > 10_000:  # many addresses: forget the old ones rather than grow forever
            self._recorded = {k: t for k, t in self._recorded.items() if now - t < _EVENT_EVERY_SECONDS}
        self._recorded[key] = now
        try:
            await self._events.arecord(
                "ip.denied",
                outcome="denied",
                actor=origin.ip or "unknown",
                tenant_id=tenant_id,
                origin=origin,
                details={"scope": "tenant" if tenant_id else "global"},
            )
        except BackendUnavailable as exc:  # the refusal stands; only its record is lost (and logged)
            log.warning("ip_denied_not_recorded", error=exc.message, tenant_id=tenant_id)

    # --- administration (blocking: call from a worker thread) ---

    def list(self, tenant_id: str | None) -> builtins.list[IpRule]:
        return self._repository.list(tenant_id)

    def add(
        self,
        tenant_id: str | None,
        cidr: str,
        action: IpRuleAction,
        note: str,
        *,
        actor: str,
        origin: RequestOrigin,
        force: bool = False,
    ) -> IpRule:
        """Add a rule to a scope (None: global). Conflict when it would exclude the caller's own address
        (unless `force`): a rule that locks its author out is almost always a mistake."""
        rule = IpRule(
            id=f"ipr_{uuid.uuid4().hex}",
            tenant_id=tenant_id,
            cidr=normalise_cidr(cidr),
            action=action,
            note=note,
            created_at=time.time(),
        )
        if not force and origin.ip is not None:
            current = self._repository.list(tenant_id)
            if rules_allow(current, origin.ip) and not rules_allow([*current, rule], origin.ip):
                raise Conflict(
                    f"this rule would refuse your own address {origin.ip}; send force=true to add it anyway",
                    details={"field": "cidr", "ip": origin.ip},
                )
        self._repository.add(rule)
        self._checked_at = float("-inf")
        self._events.record(
            "ip_rule.created",
            outcome="ok",
            actor=actor,
            tenant_id=tenant_id,
            target=rule.id,
            origin=origin,
            details={"cidr": rule.cidr, "action": action, "scope": "tenant" if tenant_id else "global"},
        )
        return rule

    def remove(self, tenant_id: str | None, rule_id: str, *, actor: str, origin: RequestOrigin) -> None:
        """Remove a rule of the scope; IpRuleNotFound when the scope has no rule with that id."""
        if not self._repository.remove(tenant_id, rule_id):
            raise IpRuleNotFound(f"IP rule {rule_id} not found")
        self._checked_at = float("-inf")
        self._events.record(
            "ip_rule.deleted",
            outcome="ok",
            actor=actor,
            tenant_id=tenant_id,
            target=rule_id,
            origin=origin,
            details={"scope": "tenant" if tenant_id else "global"},
        )
