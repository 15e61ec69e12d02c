"""`membank keys`: create, list and revoke API keys (run where the data directory is)."""

from __future__ import annotations

import time

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
                raise click.ClickException(f"unknown tenant {tenant!r}")
            tenant_id = found.id
        for key in store.keys.list_keys(tenant_id):
            state = "revoked" if key.revoked_at else "active"
            click.echo(f"{key.id}  {key.prefix}  {state:8}  {','.join(key.scopes):40}  {key.name}")
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
            raise click.ClickException(f"no active key {key_id!r}")
    finally:
        store.close()
    click.echo(f"revoked {key_id}")
