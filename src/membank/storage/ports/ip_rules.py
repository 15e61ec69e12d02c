"""IP allow and deny rules of the platform (global) and of each tenant."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["IpRule", "IpRuleAction", "IpRuleRepository", "IpRulesRevision"]

IpRuleAction = Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class IpRule:
    """One rule: `cidr` (normalised, IPv4 or IPv6) is allowed or denied; `tenant_id` None is global."""

    id: str
    tenant_id: str | None
    cidr: str
    action: IpRuleAction
    note: str
    created_at: float


@dataclass(frozen=True, slots=True)
class IpRulesRevision:
    """Changes whenever a rule is added or removed anywhere: the number of rules and the newest one's time
    (a removal lowers the count; an addition raises the newest time, even when it follows a removal)."""

    count: int
    newest: float | None


class IpRuleRepository(Protocol):
    def add(self, rule: IpRule) -> None:
        """Store a new rule."""

    def remove(self, tenant_id: str | None, rule_id: str) -> bool:
        """Delete the rule of that scope (None: global) with that id; False when there is none."""

    def list(self, tenant_id: str | None) -> list[IpRule]:
        """The rules of one scope (None: the global rules), oldest first."""

    def all(self) -> builtins.list[IpRule]:
        """Every rule of every scope (what an instance caches)."""

    def revision(self) -> IpRulesRevision:
        """The current revision of the whole rule set (cheap: one aggregate query)."""
