"""`membank auth`: maintenance of the keys that sign access tokens (run where the store is reachable)."""

from __future__ import annotations

import click

from membank.config import Settings


@click.group()
def auth() -> None:
    """Identity and access maintenance."""


@auth.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Make a new access-token signing key; the old ones verify until the tokens they signed have expired."""
    from membank.auth.events import SecurityEvents
    from membank.auth.wiring import build_sessions
    from membank.bootstrap import build_secret_box, build_store

    settings = Settings()
    store = build_store(settings)
    try:
        events = SecurityEvents(store.security_events)
        signing_keys, _ = build_sessions(
            settings, store, events, build_secret_box(settings), login_sessions=store.login_sessions
        )
        kid, retiring = signing_keys.rotate()
        events.record(
            "signing_key_rotate",
            outcome="ok",
            actor="cli",
            tenant_id=None,
            target=kid,
            details={"retiring": retiring},
        )
    finally:
        store.close()
    click.echo(f"signing key {kid} signs from now on")
    for old in retiring:
        click.echo(f"{old} verifies until the tokens it signed have expired, then retires")
