"""The diagnosis of a running service: each check compares what is with what should be and says what to
do; the safe repairs (re-queue jobs whose lease ran out, bring a drifted index in line) run on request or,
with MEMBANK_DIAGNOSTICS_AUTO_REPAIR, on their own, every act in the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.config import Settings
from membank.diagnostics.config_checks import check_auth, check_secrets, check_transport
from membank.diagnostics.findings import Detail, Diagnosis, Finding, RepairAction
from membank.diagnostics.index_drift import IndexDrift
from membank.diagnostics.resources import check_disk, check_memory
from membank.diagnostics.windows import LlmRates, check_embedding_latency, check_slow_routes
from membank.errors import BackendUnavailable
from membank.observability.embedding_latency import EMBEDDING_LATENCY
from membank.observability.route_latency import RouteLatencyWindow
from membank.search.indexing import IndexSync
from membank.storage.ports import JobLeases, Outbox

log = structlog.get_logger(__name__)

REPAIR_EVENT = "diagnostics_repair"


class DiagnosticsService:
    """Runs every check against the system of record, the index this process can reach and the settings.

    `index_sync` is None where this process cannot compare the index (a standalone worker; the CLI while a
    server owns the embedded index): `index_note` then says why and where to look instead. With
    `route_latency` (the serving process) the diagnosis also reports what this process saw: its slowest
    routes and its LLM error and fallback rates."""

    def __init__(
        self,
        settings: Settings,
        *,
        outbox: Outbox,
        job_leases: JobLeases,
        events: SecurityEvents,
        index_sync: IndexSync | None,
        index_note: str | None = None,
        route_latency: RouteLatencyWindow | None = None,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._leases = job_leases
        self._events = events
        self._drift = IndexDrift(index_sync, outbox) if index_sync is not None else None
        self._index_note = index_note
        self._route_latency = route_latency
        self._llm = LlmRates(
            configured=settings.llm_base_url is not None,
            max_ratio=settings.diagnostics_llm_max_error_ratio,
            min_calls=settings.diagnostics_llm_min_calls,
        )

    def diagnose(self, repairs: list[RepairAction] | None = None) -> Diagnosis:
        """Every check, in a fixed order (blocking: the index comparison reads every memory's token)."""
        s = self._settings
        now = time.time()
        findings = [
            self._index_finding(),
            self._outbox_lag(now),
            *self._job_findings(now),
            check_auth(s),
            check_secrets(s),
            check_transport(s),
            check_disk(
                s.data_dir,
                warn_below=s.diagnostics_min_free_disk_bytes,
                fail_below=s.index_min_free_bytes,
            ),
            check_memory(warn_below=s.diagnostics_min_free_memory_bytes),
        ]
        if self._route_latency is not None:
            findings.append(
                check_slow_routes(
                    self._route_latency,
                    p95_above=s.diagnostics_slow_route_p95_seconds,
                    top=s.diagnostics_slow_routes_top,
                )
            )
            findings.append(self._llm.finding())
            findings.append(
                check_embedding_latency(
                    EMBEDDING_LATENCY, slowdown_ratio=s.diagnostics_embedding_slowdown_ratio
                )
            )
        return Diagnosis(at=now, findings=findings, repairs=repairs or [])

    def repair(
        self,
        *,
        actor: str,
        tenant_id: str | None,
        origin: RequestOrigin | None = None,
        requested: bool = True,
    ) -> list[RepairAction]:
        """Run the safe repairs; each one that changed something is recorded in the audit log as soon as it
        is done (a later one failing leaves the earlier ones on record). A `requested` run that found
        nothing to repair is on record too (target `nothing_to_repair`): an operator asked for it; the
        automatic rounds record only what they did."""
        actions: list[RepairAction] = []

        def record(target: str, detail: Detail) -> None:
            self._events.record(
                REPAIR_EVENT,
                outcome="ok",
                actor=actor,
                tenant_id=tenant_id,
                target=target,
                origin=origin,
                details=dict(detail),
            )

        def done(action: RepairAction) -> None:
            actions.append(action)
            record(action.name, action.detail)
            log.warning("diagnostics_repaired", action=action.name, **action.detail)

        requeued = self._leases.requeue_expired(time.time() - self._settings.diagnostics_stuck_job_seconds)
        if requeued:
            done(RepairAction("requeue_stuck_jobs", {"requeued": requeued}))
        fixed = self._drift.repair() if self._drift is not None else None
        if fixed is not None:
            done(RepairAction("repair_index_drift", fixed))
        if requested and not actions:
            record("nothing_to_repair", {})
        return actions

    def repair_and_diagnose(
        self, *, actor: str, tenant_id: str | None, origin: RequestOrigin | None = None
    ) -> Diagnosis:
        """The safe repairs, then every check (so the answer shows what they left)."""
        return self.diagnose(self.repair(actor=actor, tenant_id=tenant_id, origin=origin))

    async def run_auto_repair(self, stop: asyncio.Event) -> None:
        """Repair every MEMBANK_DIAGNOSTICS_AUTO_REPAIR_SECONDS until `stop` is set (the serving process)."""
        every = self._settings.diagnostics_auto_repair_seconds
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            if stop.is_set():
                return
            try:
                await asyncio.to_thread(self.repair, actor="system", tenant_id=None, requested=False)
            except BackendUnavailable as exc:  # an outage is expected: the next round tries again
                log.error("diagnostics_auto_repair_store_unavailable", error=exc.message)
            except Exception:
                log.exception("diagnostics_auto_repair_error")

    def _index_finding(self) -> Finding:
        if self._drift is None:
            return Finding(
                "index.drift",
                "warn",
                {"compared": False},
                self._index_note or "this process holds no vector index: diagnose the serving process",
            )
        return self._drift.finding()

    def _outbox_lag(self, now: float) -> Finding:
        backlog = self._outbox.backlog()
        age = 0.0 if backlog.oldest_created_at is None else max(0.0, now - backlog.oldest_created_at)
        limit = self._settings.diagnostics_outbox_max_lag_seconds
        detail: Detail = {
            "pending": backlog.pending,
            "oldest_age_seconds": round(age, 3),
            "max_lag_seconds": limit,
        }
        if age <= limit:
            return Finding.ok("outbox.lag", detail)
        return Finding(
            "outbox.lag",
            "fail",
            detail,
            "index updates are not being applied: see the vector_index component of /health/ready, and "
            "make sure the process that owns the index runs (`membank serve`; workers only fill the outbox)",
        )

    def _job_findings(self, now: float) -> list[Finding]:
        s = self._settings
        report = self._leases.lease_report(
            now,
            started_before=now - s.diagnostics_long_job_seconds,
            dead_since=now - s.diagnostics_dead_job_window_seconds,
        )
        expired_for = 0.0 if report.oldest_expiry is None else max(0.0, now - report.oldest_expiry)
        stuck: Detail = {
            "expired_leases": report.expired,
            "oldest_expired_seconds": round(expired_for, 3),
            "long_running": report.long_running,
            "longest_running_seconds": None
            if report.oldest_start is None
            else round(now - report.oldest_start, 3),
        }
        if report.expired and expired_for > s.diagnostics_stuck_job_seconds:
            jobs = Finding(
                "jobs.stuck",
                "fail",
                stuck,
                "no worker re-claims these jobs: start workers (`membank worker`, or `membank serve` "
                "with MEMBANK_WORKERS > 0), or re-queue them: POST /api/v1/admin/diagnostics/repair "
                "(`membank doctor --repair`)",
            )
        elif report.expired or report.long_running:
            jobs = Finding(
                "jobs.stuck",
                "warn",
                stuck,
                "a worker died or stalled (its lease ran out: the next free worker re-claims the job), or a "
                "job runs longer than MEMBANK_DIAGNOSTICS_LONG_JOB_SECONDS: watch GET /api/v1/jobs/{id}",
            )
        else:
            jobs = Finding.ok("jobs.stuck", stuck)
        dead: Detail = {
            "dead": report.dead,
            "window_seconds": s.diagnostics_dead_job_window_seconds,
            "last_death_age_seconds": None
            if report.last_death is None
            else round(now - report.last_death, 3),
        }
        if report.dead:
            return [
                jobs,
                Finding(
                    "jobs.dead",
                    "warn",
                    dead,
                    "jobs ran out of attempts (MEMBANK_JOB_MAX_ATTEMPTS): read their error "
                    "(GET /api/v1/jobs/{id}), fix the cause (an LLM or embedder down, bad input) and "
                    "submit the work again",
                ),
            ]
        return [jobs, Finding.ok("jobs.dead", dead)]
