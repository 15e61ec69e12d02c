"""HTTP endpoints of the diagnosis (`/api/v1/admin/diagnostics`): the service-wide view, for operators."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from membank.api.deps import AppContainer, CurrentPrincipal, request_origin
from membank.api.envelope import Envelope, ok
from membank.api.responses import AUTHENTICATED, error_responses
from membank.diagnostics.schemas import DiagnosisOut
from membank.errors import Forbidden
from membank.models import Principal

router = APIRouter(prefix="/api/v1/admin", tags=["diagnostics"])


async def _operator(principal: CurrentPrincipal) -> Principal:
    # The diagnosis spans every tenant and its repairs act on all of them: platform admins only, like the
    # global IP rules and the tenant list. With auth off (allowed on loopback only) whoever can reach the
    # port is on the machine, where `membank doctor` gives them the same view.
    if not (principal.is_platform_admin or principal.kind == "anonymous"):
        raise Forbidden(
            "only a platform admin reads the service's diagnosis", details={"permission": "platform-admin"}
        )
    return principal


Operator = Annotated[Principal, Depends(_operator)]


@router.get("/diagnostics", response_model=Envelope[DiagnosisOut], responses=error_responses(*AUTHENTICATED))
async def diagnostics(principal: Operator, container: AppContainer) -> Response:
    """Every check of the service with its verdict (ok, warn, fail), numbers and suggested action."""
    diagnosis = await asyncio.to_thread(container.diagnostics.diagnose)
    return ok(DiagnosisOut.of(diagnosis).model_dump())


@router.post(
    "/diagnostics/repair", response_model=Envelope[DiagnosisOut], responses=error_responses(*AUTHENTICATED)
)
async def repair(principal: Operator, request: Request, container: AppContainer) -> Response:
    """Run the safe repairs (re-queue jobs whose lease ran out, repair index drift), each recorded in the
    audit log, then every check."""
    diagnosis = await asyncio.to_thread(
        container.diagnostics.repair_and_diagnose,
        actor=principal.subject,
        tenant_id=principal.tenant_id,
        origin=request_origin(request),
    )
    return ok(DiagnosisOut.of(diagnosis).model_dump())
