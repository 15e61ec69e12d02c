"""HTTP endpoints of usage, cost and capacity (`/api/v1/admin/usage`, `/api/v1/admin/capacity`).

A tenant admin (`admin:read`) sees its own tenant; a platform admin sees every tenant, or one with `tenant`.
The capacity forecast is about the whole deployment: platform admins only.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from membank.api.deps import AdminRead, AppContainer
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, error_responses
from membank.errors import Forbidden, ValidationFailed
from membank.models import Principal
from membank.usage.report import current_month, month_bounds, recommendations
from membank.usage.schemas import CapacityOut, MonthlyReportOut, UsageReportOut

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

# A string of format date rather than a `date`: pydantic would also take a number of seconds for one.
Day = Annotated[str | None, Query(description="A UTC day, YYYY-MM-DD", json_schema_extra={"format": "date"})]
Month = Annotated[
    str | None, Query(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", description="A UTC month, YYYY-MM")
]
TenantFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="One tenant's id (platform admins; others see their own)"),
]


def _scope(principal: Principal, tenant: str | None) -> str | None:
    return tenant if principal.is_platform_admin else principal.tenant_id


@router.get(
    "/usage",
    response_model=Envelope[UsageReportOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def usage(
    principal: AdminRead,
    container: AppContainer,
    from_: Annotated[
        str | None,
        Query(alias="from", description="A UTC day, YYYY-MM-DD", json_schema_extra={"format": "date"}),
    ] = None,
    to: Day = None,
    tenant: TenantFilter = None,
) -> Response:
    """Per tenant: what it keeps (memories, bytes, vectors), what it did (requests, searches, writes, jobs,
    embedded texts) and its LLM tokens and cost by model, over the UTC days [from, to] (default: this month
    so far)."""
    first, last = month_bounds(current_month())
    report = await asyncio.to_thread(
        container.usage.report,
        from_ if from_ is not None else first,
        to if to is not None else last,
        tenant_id=_scope(principal, tenant),
    )
    return ok(report)


@router.get(
    "/usage/monthly",
    response_model=Envelope[MonthlyReportOut],
    responses=error_responses(ValidationFailed, *AUTHENTICATED),
)
async def monthly(
    principal: AdminRead, container: AppContainer, month: Month = None, tenant: TenantFilter = None
) -> Response:
    """A month's report (default: this month): the usage, the capacity forecast and the recommendations."""
    report = await asyncio.to_thread(
        container.usage.monthly,
        month if month is not None else current_month(),
        tenant_id=_scope(principal, tenant),
    )
    if not principal.is_platform_admin:
        # The forecast is the deployment's, not the tenant's.
        report["forecast"] = {}
        report["recommendations"] = [r for r in report["recommendations"] if r.get("tenant_id")]
    return ok(report)


@router.get("/capacity", response_model=Envelope[CapacityOut], responses=error_responses(*AUTHENTICATED))
async def capacity(principal: AdminRead, container: AppContainer) -> Response:
    """Growth of memories, disk and memory use over the daily history, days until full with the fit's
    range, and the recommendations for this month (platform admins: it is the deployment's)."""
    if not principal.is_platform_admin:
        raise Forbidden(
            "the capacity forecast is the deployment's: platform admins only",
            details={"permission": "platform-admin"},
        )
    forecast = await asyncio.to_thread(container.capacity.forecast)
    first, last = month_bounds(current_month())
    report = await asyncio.to_thread(container.usage.report, first, last)
    return ok({"forecast": forecast, "recommendations": recommendations(report, forecast)})
