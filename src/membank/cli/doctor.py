"""`membank doctor`: the diagnosis of the configured service, read from its store and index directly."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click
import orjson

from membank.config import Settings
from membank.diagnostics import Diagnosis, DiagnosticsService
from membank.diagnostics.schemas import DiagnosisOut
from membank.errors import IndexUnavailable

if TYPE_CHECKING:
    from membank.search.indexing import IndexSync

# The embedded index belongs to the server while it runs; the diagnosis then skips the comparison.
_SERVER_OWNS_INDEX = (
    "the running server owns the embedded index: its diagnosis compares it "
    "(GET /api/v1/admin/diagnostics), or stop the server and run `membank doctor` again"
)


@contextlib.contextmanager
def _diagnostics(settings: Settings) -> Iterator[DiagnosticsService]:
    from membank.auth.events import SecurityEvents
    from membank.bootstrap import build_diagnostics, build_index, build_index_sync, build_store

    store = build_store(settings)
    index = build_index(settings, store, maintenance=True)
    sync: IndexSync | None = None
    note: str | None = None
    try:
        try:
            index.ping()
        except IndexUnavailable as exc:
            # Locked: a server holds the embedded index (or another maintenance command the shared one).
            # Any other fault is what the drift check reports.
            if exc.cause == "locked":
                note = _SERVER_OWNS_INDEX if not index.shared else f"{exc.message}: try again when it is done"
        if note is None:
            sync = build_index_sync(store, index)
        yield build_diagnostics(settings, store, sync, SecurityEvents(store.security_events), index_note=note)
    finally:
        index.close()
        store.close()


def _detail(detail: dict[str, Any]) -> str:
    return " ".join(
        f"{key}={','.join(value) if isinstance(value, list) else value}" for key, value in detail.items()
    )


def _print_table(diagnosis: Diagnosis) -> None:
    for repair in diagnosis.repairs:
        click.echo(f"repaired: {repair.name} {_detail(dict(repair.detail))}")
    rows = [("CHECK", "VERDICT", "DETAIL")] + [
        (f.name, f.verdict, _detail(dict(f.detail))) for f in diagnosis.findings
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for name, verdict, detail in rows:
        click.echo(f"{name.ljust(widths[0])}  {verdict.ljust(widths[1])}  {detail}".rstrip())
    actions = [f for f in diagnosis.findings if f.action is not None]
    if actions:
        click.echo("")
    for finding in actions:
        click.echo(f"{finding.name}: {finding.action}")
    click.echo(f"\nverdict: {diagnosis.verdict}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON (as the API answers it).")
@click.option(
    "--repair",
    is_flag=True,
    help="First re-queue jobs whose lease ran out and repair index drift (each act in the audit log).",
)
def doctor(as_json: bool, repair: bool) -> None:
    """Check the service: index drift, outbox lag, stuck and dead jobs, configuration risks, disk and memory.

    Exits 1 when any check fails (warnings do not). With the embedded index, the index comparison needs the
    server stopped (its own diagnosis, GET /api/v1/admin/diagnostics, compares it while it runs)."""
    settings = Settings()
    with _diagnostics(settings) as service:
        diagnosis = (
            service.repair_and_diagnose(actor="cli:membank doctor", tenant_id=None)
            if repair
            else service.diagnose()
        )
    if as_json:
        click.echo(orjson.dumps(DiagnosisOut.of(diagnosis).model_dump()).decode())
    else:
        _print_table(diagnosis)
    if diagnosis.verdict == "fail":
        sys.exit(1)
