"""`membank ip-rules`: add, list and remove IP allow and deny rules, a tenant's or (--global) the platform's
(run where the data directory is; every instance sees the change within MEMBANK_IP_RULES_REFRESH_SECONDS)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import click

from membank.auth.events import RequestOrigin, SecurityEvents
from membank.auth.ip_rules import MAX_NOTE_LENGTH, IpRules
from membank.config import Settings
from membank.errors import MemBankError
from membank.observability.logging import configure_logging_from
from membank.storage.ports import IpRuleAction, RecordStore


@click.group("ip-rules")
def ip_rules() -> None:
    """Manage IP allow and deny rules."""


F = TypeVar("F", bound=Callable[..., Any])

_SCOPE_OPTIONS = [
    click.option("--tenant", default=None, help="The tenant (by name) whose rules these are."),
    click.option("--global", "global_", is_flag=True, help="The global rules (every request, every tenant)."),
]


def _scoped(function: F) -> F:
    for option in reversed(_SCOPE_OPTIONS):
        function = option(function)
    return function


@contextlib.contextmanager
def _rules() -> Iterator[tuple[RecordStore, IpRules]]:
    from membank.bootstrap import build_store

    settings = Settings()
    # Security events are logged as they are written: to stderr, so stdout carries only the output.
    configure_logging_from(settings)
    store = build_store(settings)
    try:
        yield store, IpRules(store.ip_rules, SecurityEvents(store.security_events), refresh_seconds=0)
    finally:
        store.close()


def _tenant_id(store: RecordStore, tenant: str | None, global_: bool) -> str | None:
    if global_ == (tenant is not None):
        raise click.UsageError("name the scope: --tenant NAME or --global")
    if tenant is None:
        return None
    found = store.keys.tenant_by_name(tenant)
    if found is None:
        raise click.ClickException(f"no tenant named {tenant!r}")
    return found.id


@ip_rules.command("add")
@click.argument("cidr")
@click.option("--action", type=click.Choice(["allow", "deny"]), required=True)
@click.option("--note", default="", help=f"Why the rule exists (up to {MAX_NOTE_LENGTH} characters).")
@_scoped
def add(cidr: str, action: str, note: str, tenant: str | None, global_: bool) -> None:
    """Add a rule; prints its id."""
    if len(note) > MAX_NOTE_LENGTH:
        raise click.UsageError(f"--note is longer than {MAX_NOTE_LENGTH} characters")
    with _rules() as (store, rules):
        scope = _tenant_id(store, tenant, global_)
        try:
            # The CLI has no client address of its own to lock out: the lockout guard does not apply.
            rule = rules.add(
                scope,
                cidr,
                cast(IpRuleAction, action),  # click.Choice allows only these
                note,
                actor="cli",
                origin=RequestOrigin(),
            )
        except MemBankError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(rule.id)


@ip_rules.command("list")
@_scoped
def list_rules(tenant: str | None, global_: bool) -> None:
    """List the rules of a scope, oldest first (id, action, cidr, note)."""
    with _rules() as (store, rules):
        for rule in rules.list(_tenant_id(store, tenant, global_)):
            click.echo(f"{rule.id}\t{rule.action}\t{rule.cidr}\t{rule.note}")


@ip_rules.command("remove")
@click.argument("rule_id")
@_scoped
def remove(rule_id: str, tenant: str | None, global_: bool) -> None:
    """Remove a rule of a scope."""
    with _rules() as (store, rules):
        try:
            rules.remove(_tenant_id(store, tenant, global_), rule_id, actor="cli", origin=RequestOrigin())
        except MemBankError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(rule_id)
