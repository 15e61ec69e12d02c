"""Diagnosis of a running service: checks with verdicts and suggested actions, and the safe repairs
(GET /api/v1/admin/diagnostics, `membank doctor`)."""

from membank.diagnostics.findings import Diagnosis, Finding, RepairAction, Verdict
from membank.diagnostics.service import REPAIR_EVENT, DiagnosticsService

__all__ = ["REPAIR_EVENT", "Diagnosis", "DiagnosticsService", "Finding", "RepairAction", "Verdict"]
