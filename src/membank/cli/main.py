"""`membank`: serve, work, administer and use the service from the shell."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click
import orjson

from membank.cli.errors import OneLineErrors
from membank.cli.mcp import mcp_stdio
from membank.cli.migrate import migrate
from membank.config import Settings
from membank.errors import IndexUnavailable


def _settings() -> Settings:
    """This command's settings; invalid ones end it with one line naming the variables (cli/errors.py)."""
    return Settings()


@click.group(cls=OneLineErrors)
@click.version_option(package_name="membank")
@click.option("--traceback", is_flag=True, help="On an error, show the Python traceback (for bug reports).")
def cli(traceback: bool) -> None:
    """MemBank: long-term memory for AI agents."""


cli.add_command(migrate)


@cli.command()
@click.option("--host", default=None, help="Bind address (MEMBANK_HOST).")
@click.option("--port", default=None, type=int, help="Port (MEMBANK_PORT).")
@click.option("--no-workers", is_flag=True, help="Do not run job workers in this process.")
def serve(host: str | None, port: int | None, no_workers: bool) -> None:
    """Run the API (and, by default, job workers) on the configured backends."""
    import uvicorn

    from membank.api import create_app
    from membank.auth.keys import ensure_admin_key
    from membank.bootstrap import build_store

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if no_workers:
        overrides["run_workers"] = False
    settings = _settings().model_copy(update=overrides)
    store = build_store(settings)
    admin = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    try:
        issued = ensure_admin_key(store.keys, admin)
    except ValueError as refused:
        raise click.ClickException(str(refused)) from None
    finally:
        store.close()
    if issued is not None and admin is None:
        click.echo(f"Generated the admin API key (shown once, store it now): {issued.plaintext}", err=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )


@cli.command()
@click.option("--concurrency", default=None, type=int, help="Number of workers (MEMBANK_WORKERS).")
def worker(concurrency: int | None) -> None:
    """Run job workers only; index updates reach the server through the outbox."""
    from membank.bootstrap import build_container
    from membank.jobs.worker import finish_within
    from membank.observability.logging import configure_logging_from
    from membank.observability.metrics import serve_metrics
    from membank.observability.tracing import configure_tracing_from

    settings = _settings()
    configure_logging_from(settings)
    configure_tracing_from(settings)
    count = concurrency if concurrency is not None else max(1, settings.workers)

    async def main() -> None:
        container = build_container(settings, with_index=False)
        if settings.worker_metrics_port is not None:
            serve_metrics(settings.host, settings.worker_metrics_port)
        await container.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            tasks = [asyncio.create_task(container.new_worker().run(stop)) for _ in range(count)]
            tasks.append(asyncio.create_task(container.usage_meter.run(stop, settings.usage_flush_seconds)))
            await stop.wait()
            await finish_within(tasks, settings.shutdown_grace_seconds)
        finally:
            await container.aclose()

    asyncio.run(main())


def _index_sync(settings: Settings) -> Any:
    from membank.bootstrap import build_index, build_index_sync, build_store

    store = build_store(settings)
    index = build_index(settings, store, maintenance=True)
    try:
        index.ping()
    except IndexUnavailable as exc:
        # A running server owns the embedded index, or another maintenance command holds the shared one:
        # stop here, before anything is compared.
        if exc.cause == "locked":
            index.close()
            store.close()
            raise
    return store, index, build_index_sync(store, index)


@cli.command()
def reindex() -> None:
    """Rebuild every derived index from the system of record.

    With the embedded index, stop the server first. With a shared index (pgvector, Qdrant server) it runs
    online beside the servers, never emptying search (pgvector: one such command at a time)."""
    settings = _settings()
    store, index, sync = _index_sync(settings)
    try:
        rebuilt = sync.reindex_command()
        if rebuilt.kept:
            click.echo(f"the unreadable index was set aside at {rebuilt.kept}")
        click.echo(f"reindexed {rebuilt.count} memories; building the HNSW graph ...")
        index.optimize()
    finally:
        index.close()
        store.close()
    click.echo("done")


@cli.command()
@click.option("--repair", is_flag=True, help="Fix every difference found.")
def check(repair: bool) -> None:
    """Compare the system of record with the derived indexes.

    With the embedded index, stop the server first. With a shared index (pgvector, Qdrant server) it runs
    online beside the servers; --repair checks each orphan again before deleting it."""
    settings = _settings()
    store, index, sync = _index_sync(settings)
    try:
        report = sync.check(repair=repair)
    finally:
        index.close()
        store.close()
    click.echo(
        orjson.dumps(
            {
                "consistent": report.consistent,
                "records": report.records,
                "indexed": report.indexed,
                "missing": len(report.missing),
                "stale": len(report.stale),
                "orphaned": len(report.orphaned),
                "repaired": report.repaired,
                "unavailable": report.unavailable,
                "rebuilt": report.rebuilt is not None,
                "kept": report.rebuilt.kept if report.rebuilt else None,
            }
        ).decode()
    )
    if not report.consistent and not repair:
        sys.exit(1)


from membank.cli.auth import auth  # noqa: E402
from membank.cli.doctor import doctor  # noqa: E402
from membank.cli.ip_rules import ip_rules  # noqa: E402
from membank.cli.keys import keys  # noqa: E402
from membank.cli.report import usage_report  # noqa: E402
from membank.cli.usage import add, import_file, search  # noqa: E402
from membank.cli.users import users  # noqa: E402

cli.add_command(keys)
cli.add_command(ip_rules)
cli.add_command(auth)
cli.add_command(users)
cli.add_command(doctor)
cli.add_command(add)
cli.add_command(search)
cli.add_command(import_file)
cli.add_command(usage_report)
cli.add_command(mcp_stdio)


@cli.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the document to this file instead of standard output.",
)
def openapi(output: str | None) -> None:
    """Print the API's OpenAPI document as published in docs/openapi.json (`make openapi` rewrites it)."""
    from pathlib import Path

    from membank.api import create_app
    from membank.api.openapi import openapi_json

    text = openapi_json(create_app(_settings()))
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
