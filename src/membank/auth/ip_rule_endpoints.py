"""HTTP endpoints of IP rules (`/api/v1/ip-rules`): a tenant's own (tenant admins), or the global rules
(`scope=global`, platform admins)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from membank.api.deps import AdminWrite, AppContainer, request_origin
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, WITH_BODY, error_responses
from membank.auth.ip_rules import MAX_NOTE_LENGTH
from membank.errors import Conflict, Forbidden, IpRuleNotFound, ValidationFailed
from membank.models import Principal, from_epoch, iso
from membank.storage.ports.ip_rules import IpRule, IpRuleAction

router = APIRouter(prefix="/api/v1", tags=["ip-rules"])

Scope = Literal["tenant", "global"]
ScopeQuery = Annotated[
    Scope,
    Query(description="`tenant`: the caller's tenant's rules; `global`: every request's (platform admins)"),
]
RuleId = Annotated[str, Path(max_length=64)]


class IpRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cidr: str = Field(
        min_length=1,
        max_length=64,
        description="An IPv4 or IPv6 address or CIDR (host bits are dropped: 10.1.2.3/8 is 10.0.0.0/8)",
    )
    action: IpRuleAction
    note: str = Field(default="", max_length=MAX_NOTE_LENGTH)
    force: bool = Field(
        default=False, description="Add the rule even though it would refuse the caller's own address"
    )


class IpRuleOut(BaseModel):
    id: str
    scope: Scope
    cidr: str
    action: IpRuleAction
    note: str
    created_at: str


class IpRulesOut(BaseModel):
    rules: list[IpRuleOut]


class IpRuleDeleted(BaseModel):
    id: str
    deleted: bool


def _rule_out(rule: IpRule) -> IpRuleOut:
    return IpRuleOut(
        id=rule.id,
        scope="tenant" if rule.tenant_id is not None else "global",
        cidr=rule.cidr,
        action=rule.action,
        note=rule.note,
        created_at=iso(from_epoch(rule.created_at)) or "",
    )


def _tenant_of(principal: Principal, scope: Scope) -> str | None:
    """The rules' tenant (None: global); the global rules are the platform admins' alone."""
    if scope == "tenant":
        return principal.tenant_id
    if not principal.is_platform_admin:
        raise Forbidden(
            "only a platform admin manages the global IP rules", details={"permission": "platform-admin"}
        )
    return None


@router.get(
    "/ip-rules",
    response_model=Envelope[IpRulesOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def list_ip_rules(
    principal: AdminWrite, container: AppContainer, scope: ScopeQuery = "tenant"
) -> Response:
    """The rules of the tenant (or the global ones), oldest first."""
    rules = await asyncio.to_thread(container.ip_rules.list, _tenant_of(principal, scope))
    return ok(IpRulesOut(rules=[_rule_out(r) for r in rules]).model_dump())


@router.post(
    "/ip-rules",
    response_model=Envelope[IpRuleOut],
    status_code=201,
    responses=error_responses(ValidationFailed, *AUTHENTICATED, Conflict, *WITH_BODY),
)
async def create_ip_rule(
    body: IpRuleIn,
    request: Request,
    principal: AdminWrite,
    container: AppContainer,
    scope: ScopeQuery = "tenant",
) -> Response:
    """Add an allow or deny rule; in force on every instance within MEMBANK_IP_RULES_REFRESH_SECONDS.
    409 when it would refuse the caller's own address, unless `force` is true."""
    rule = await asyncio.to_thread(
        container.ip_rules.add,
        _tenant_of(principal, scope),
        body.cidr,
        body.action,
        body.note,
        actor=principal.subject,
        origin=request_origin(request),
        force=body.force,
    )
    return ok(_rule_out(rule).model_dump(), status=201)


@router.delete(
    "/ip-rules/{rule_id}",
    response_model=Envelope[IpRuleDeleted],
    responses=error_responses(ValidationFailed, *AUTHENTICATED, IpRuleNotFound),
)
async def delete_ip_rule(
    rule_id: RuleId,
    request: Request,
    principal: AdminWrite,
    container: AppContainer,
    scope: ScopeQuery = "tenant",
) -> Response:
    """Remove a rule of the tenant (or a global one)."""
    await asyncio.to_thread(
        container.ip_rules.remove,
        _tenant_of(principal, scope),
        rule_id,
        actor=principal.subject,
        origin=request_origin(request),
    )
    return ok(IpRuleDeleted(id=rule_id, deleted=True).model_dump())
