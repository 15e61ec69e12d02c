"""`membank keys`: create, list and revoke API keys (run where the data directory is)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import click

from membank.auth.keys import DEFAULT_SCOPES, DEFAULT_TENANT, issue_key
from membank.config import Settings


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--tenant", default=DEFAULT_TENANT, show_default=True, help="Tenant name (created if missing).")
@click.option("--name", default="cli", show_default=True, help="A label for the key.")
@click.option("--scopes", default=",".join(DEFAULT_SCOPES), show_default=True, help="Comma-separated scopes.")
def create(tenant: str, name: str, scopes: str) -> None:
    """Create a key; its secret is printed once."""
    from membank.bootstrap import build_store

    store = build_store(Settings())
    try:
        issued = issue_key(
            store.keys,
            tenant_name=tenant,
            name=name,
            scopes=tuple(s.strip() for s in scopes.split(",") if s.strip()),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(issued.plaintext)


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
def list_keys(tenant: str | None) -> None:
    """List keys (never their secrets)."""
    from membank.bootstrap import build_store

    store = build_store(Settings())
    try:
        tenant_id = None
        if tenant is not None:
            found = store.keys.tenant_by_name(tenant)
            if found is None:
                raise click.ClickException(
                    f"unknown tenant {tenant!r}; fix: `membank keys list` shows them all"
                )
            tenant_id = found.id
        tenants = {t.id: t.name for t in store.keys.tenants()}
        rows = [
            (
                key.id,
                key.prefix,
                tenants.get(key.tenant_id, key.tenant_id),
                "revoked" if key.revoked_at else "active",
                ",".join(key.scopes),
                key.name,
            )
            for key in store.keys.list_keys(tenant_id)
        ]
        _table(("ID", "PREFIX", "TENANT", "STATE", "SCOPES", "NAME"), rows)
    finally:
        store.close()


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key by id or prefix."""
    from membank.bootstrap import build_store

    store = build_store(Settings())
    try:
        if not store.keys.revoke(key_id, time.time()):
            raise click.ClickException(
                f"no active key {key_id!r}; fix: give an ID or PREFIX of an active key from `membank keys list`"
            )
    finally:
        store.close()
    click.echo(f"revoked {key_id}")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
