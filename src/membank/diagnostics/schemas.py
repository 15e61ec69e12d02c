"""The diagnosis as the API answers it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from membank.diagnostics.findings import Diagnosis, Verdict
from membank.models import from_epoch, iso


class FindingOut(BaseModel):
    name: str = Field(description="The check, e.g. `index.drift`, `outbox.lag`, `jobs.stuck`, `config.auth`")
    verdict: Verdict
    detail: dict[str, Any] = Field(description="The numbers behind the verdict (never a secret)")
    action: str | None = Field(description="What to do about it; null when the verdict is ok")


class RepairOut(BaseModel):
    name: str = Field(description="`requeue_stuck_jobs` or `repair_index_drift`")
    detail: dict[str, Any] = Field(description="What the repair touched, counted")


class DiagnosisOut(BaseModel):
    verdict: Verdict = Field(description="The worst verdict of all checks")
    at: str
    findings: list[FindingOut]
    repairs: list[RepairOut] = Field(description="The repairs run before the checks (repair requests only)")

    @classmethod
    def of(cls, diagnosis: Diagnosis) -> DiagnosisOut:
        return cls(
            verdict=diagnosis.verdict,
            at=iso(from_epoch(diagnosis.at)) or "",
            findings=[
                FindingOut(name=f.name, verdict=f.verdict, detail=dict(f.detail), action=f.action)
                for f in diagnosis.findings
            ],
            repairs=[RepairOut(name=r.name, detail=dict(r.detail)) for r in diagnosis.repairs],
        )
