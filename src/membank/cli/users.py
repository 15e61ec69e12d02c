"""`membank users`: create human accounts and unlock them (run where the data directory is)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click
from pydantic import ValidationError

from membank.accounts.mfa import MfaService
from membank.accounts.schemas import AccountCreate
from membank.accounts.service import AccountAdmin, NewAccount, normalise_email
from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.mfa import Totp
from membank.auth.rbac import RoleCatalog
from membank.auth.wiring import build_passwords, build_sessions
from membank.config import Settings
from membank.errors import MemBankError
from membank.models import Principal
from membank.observability.logging import configure_logging_from
from membank.storage.ports import RecordStore


@click.group()
def users() -> None:
    """Manage human accounts (people who log in)."""


def _read_password() -> str:
    if sys.stdin.isatty():
        entered: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return entered
    return sys.stdin.readline().rstrip("\r\n")


@users.command("create")
@click.option("--tenant", required=True, help="Tenant name (created if missing).")
@click.option("--email", required=True, help="The account's email (its login name).")
@click.option("--role", "roles", multiple=True, required=True, help="A role (repeatable), e.g. tenant-admin.")
@click.option("--display-name", default="", help="A name to show; default: the email's local part.")
@click.option("--user-id", "user_ids", multiple=True, help="Bind the account to this end user (repeatable).")
@click.option("--must-change-password", is_flag=True, help="The password is temporary: change it at login.")
def create(
    tenant: str,
    email: str,
    roles: tuple[str, ...],
    display_name: str,
    user_ids: tuple[str, ...],
    must_change_password: bool,
) -> None:
    """Create an account; the password is read from stdin (or prompted for). Prints the account id."""
    fields = {
        "email": email,
        "roles": list(roles),
        "display_name": display_name,
        "user_ids": list(user_ids) or None,
        "password": _read_password(),
        "must_change_password": must_change_password,
    }
    try:
        body = AccountCreate.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise click.ClickException(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from None
    with _admin() as (store, admin):
        principal = Principal.system(store.keys.ensure_tenant(tenant).id, "cli")
        try:
            account = admin.create(principal, NewAccount(**body.model_dump()), RequestOrigin())
        except MemBankError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(account.id)


@users.command("unlock")
@click.option("--tenant", required=True, help="Tenant name.")
@click.option("--email", required=True, help="The account's email.")
def unlock(tenant: str, email: str) -> None:
    """End an account's lockout after failed logins."""
    with _admin() as (store, admin):
        found = store.keys.tenant_by_name(tenant)
        account = store.accounts.by_email(found.id, normalise_email(email)) if found else None
        if found is None or account is None:
            raise click.ClickException(f"no account {email!r} in tenant {tenant!r}")
        was_locked = admin.unlock(Principal.system(found.id, "cli"), account.id, RequestOrigin())
    click.echo("unlocked" if was_locked else "was not locked")


@contextlib.contextmanager
def _admin() -> Iterator[tuple[RecordStore, AccountAdmin]]:
    from membank.bootstrap import (
        build_login_failures,
        build_login_state,
        build_redis,
        build_secret_box,
        build_store,
    )

    settings = Settings()
    # Security events are logged as they are written: to stderr, so stdout carries only the answer.
    configure_logging_from(settings)
    store = build_store(settings)
    redis = build_redis(settings)
    try:
        events = SecurityEvents(store.security_events)
        box = build_secret_box(settings)
        login_sessions, accounts = build_login_state(settings, store, redis)
        _, sessions = build_sessions(settings, store, events, box, login_sessions=login_sessions)
        mfa = MfaService(accounts, Totp(box, store.nonces, issuer=settings.mfa_issuer), events)
        admin = AccountAdmin(
            accounts,
            build_passwords(settings),
            failures=build_login_failures(store, redis),
            roles=RoleCatalog(store.roles),
            mfa=mfa,
            sessions=sessions,
            events=events,
        )
        yield store, admin
    finally:
        if redis is not None:
            redis.close()
        store.close()
