"""`membank keys`: create, list, rotate and revoke API keys (run where the data directory is)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import click
from pydantic import ValidationError

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.key_usage import KeyUsageCounter
from membank.auth.keys import DEFAULT_SCOPES, DEFAULT_TENANT
from membank.auth.rbac import RoleCatalog, legacy_roles
from membank.config import Settings
from membank.errors import MemBankError
from membank.keys.schemas import MAX_GRACE_SECONDS, KeyCreate
from membank.keys.service import KeyAdmin, KeySpec
from membank.models import ApiKey, Principal
from membank.observability.logging import configure_logging_from
from membank.storage.ports import RecordStore


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--tenant", default=DEFAULT_TENANT, show_default=True, help="Tenant name (created if missing).")
@click.option("--name", default="cli", show_default=True, help="A label for the key.")
@click.option("--scopes", default=",".join(DEFAULT_SCOPES), show_default=True, help="Comma-separated scopes.")
@click.option("--role", "roles", multiple=True, help="A role (repeatable); default: by the scopes.")
@click.option("--user-id", "user_ids", multiple=True, help="Bind the key to this end user (repeatable).")
@click.option("--team-id", "team_ids", multiple=True, help="Bind the key to this team (repeatable).")
@click.option("--expires-at", default=None, help="ISO 8601 time after which the key stops working.")
@click.option(
    "--allowed-ip", "allowed_ips", multiple=True, help="CIDR the key may be used from (repeatable)."
)
@click.option("--require-signature", is_flag=True, help="Refuse requests not signed with the key (HMAC).")
def create(
    tenant: str,
    name: str,
    scopes: str,
    roles: tuple[str, ...],
    user_ids: tuple[str, ...],
    team_ids: tuple[str, ...],
    expires_at: str | None,
    allowed_ips: tuple[str, ...],
    require_signature: bool,
) -> None:
    """Create a key; its secret is printed once."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    fields = {
        "name": name,
        "roles": list(roles) or legacy_roles(scope_list),
        "scopes": scope_list,
        "user_ids": list(user_ids) or None,
        "team_ids": list(team_ids) or None,
        "expires_at": expires_at,
        "allowed_ips": list(allowed_ips) or None,
        "require_signature": require_signature,
    }
    try:
        body = KeyCreate.model_validate(fields)
    except ValidationError as exc:
        raise click.ClickException(_first_error(exc)) from None
    with _admin() as (store, admin):
        principal = Principal.system(store.keys.ensure_tenant(tenant).id, "cli")
        try:
            _, plaintext = admin.create(principal, KeySpec(**body.model_dump()), RequestOrigin())
        except MemBankError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(plaintext)


@keys.command("rotate")
@click.argument("key_id")
@click.option(
    "--grace-seconds",
    type=click.IntRange(0, MAX_GRACE_SECONDS),
    default=0,
    show_default=True,
    help="How long the current secret keeps working.",
)
def rotate(key_id: str, grace_seconds: int) -> None:
    """Give a key (by id or prefix) a new secret, printed once."""
    with _admin() as (store, admin):
        found = _find(store, key_id)
        if found is None:
            raise click.ClickException(f"no key {key_id!r}; fix: `membank keys list` shows IDs and prefixes")
        try:
            _, plaintext = admin.rotate(
                Principal.system(found.tenant_id, "cli"), found.id, grace_seconds, RequestOrigin()
            )
        except MemBankError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(plaintext)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"--{where.split('.')[0].replace('_', '-')}: {error['msg']}"


@contextlib.contextmanager
def _admin() -> Iterator[tuple[RecordStore, KeyAdmin]]:
    from membank.bootstrap import build_store

    settings = Settings()
    # Security events are logged as they are written: to stderr, so stdout carries only the key.
    configure_logging_from(settings)
    store = build_store(settings)
    try:
        usage = KeyUsageCounter(store.keys)
        events = SecurityEvents(store.security_events)
        yield (
            store,
            KeyAdmin(store.keys, store.service_accounts, roles=RoleCatalog(), events=events, usage=usage),
        )
    finally:
        store.close()


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
    with _admin() as (store, admin):
        found = _find(store, key_id)
        if found is None or found.revoked_at is not None:
            raise click.ClickException(
                f"no active key {key_id!r}; fix: give an ID or PREFIX of an active key from `membank keys list`"
            )
        admin.revoke(Principal.system(found.tenant_id, "cli"), found.id, RequestOrigin(), operator=True)
    click.echo(f"revoked {key_id}")


def _find(store: RecordStore, key_id: str) -> ApiKey | None:
    """A key of any tenant by its prefix or id."""
    by_prefix = store.keys.key_by_prefix(key_id)
    return by_prefix or next((key for key in store.keys.list_keys(None) if key.id == key_id), None)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
