"""One readable line for every error a `membank` command ends with: what went wrong, and how to fix it.

The `membank` group (`OneLineErrors`) runs every command through `describe`, so no command needs its own handling and no
Python traceback reaches the user (`membank --traceback ...` shows it, for a bug report).
"""

from __future__ import annotations

import functools
import re

import click
import pydantic
import sqlalchemy.exc
from pydantic_settings import SettingsError

from membank import client
from membank.errors import IndexUnavailable, MemBankError

MAX_LINE = 400


@functools.singledispatch
def _render(exc: BaseException) -> str:
    return (
        f"unexpected {type(exc).__name__}: {exc}; "
        "fix: rerun with `membank --traceback ...` and report the traceback"
    )


@_render.register
def _unreachable(exc: client.MemBankConnectionError) -> str:
    return (
        f"{exc.message}; "
        "fix: start it with `membank serve`, or set MEMBANK_API_URL to the address of a running server"
    )


@_render.register
def _timeout(exc: client.MemBankTimeoutError) -> str:
    return f"{exc.message}; fix: check that it is healthy (GET /health/ready) and not overloaded, then retry"


@_render.register
def _api(exc: client.MemBankError) -> str:
    cause = f"the server answered {exc.status} {exc.code}: {exc.message}"
    if exc.status == 401:
        return f"{cause}; fix: set MEMBANK_API_KEY to an active key (`membank keys create` on the server)"
    if exc.status == 403:
        return f"{cause}; fix: use a key with that scope (`membank keys create --scopes ...`)"
    if exc.status is not None and exc.status >= 500:
        return f"{cause}; fix: see the server's log for request {exc.request_id or '(no id)'}, then retry"
    return f"{cause}; fix: correct the request"


@_render.register
def _settings(exc: pydantic.ValidationError) -> str:
    problems = [
        f"MEMBANK_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
        if error["loc"]
        else error["msg"]
        for error in exc.errors()
    ]
    return f"invalid settings ({'; '.join(problems)}); fix: correct these environment variables"


@_render.register
def _unparsable_setting(exc: SettingsError) -> str:
    # pydantic-settings could not decode a structured value (a dict or list setting must be JSON).
    field = re.search(r'field "(\w+)"', str(exc))
    name = f"MEMBANK_{field.group(1).upper()}" if field else "a setting"
    return f'invalid settings ({name} is not valid JSON); fix: write it as JSON, e.g. {{"key": "value"}}'


@_render.register
def _index_unavailable(exc: IndexUnavailable) -> str:
    if exc.cause == "locked":
        if "; fix: " in exc.message:  # the index knows what holds it (another maintenance command)
            return exc.message
        return (
            f"{exc.message}; fix: stop the `membank serve` using this data directory (MEMBANK_DATA_DIR) "
            "or database first, then run the command again"
        )
    return (
        f"{exc.message} ({exc.code}, {exc.cause}); fix: run `membank reindex` to rebuild it from the database"
    )


@_render.register
def _membank(exc: MemBankError) -> str:
    return f"{exc.message} ({exc.code})"


@_render.register
def _database(exc: sqlalchemy.exc.DBAPIError) -> str:
    # The driver's own first line (SQLAlchemy's text adds the statement and its parameters).
    cause = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    return (
        f"the database cannot be used ({cause}); "
        "fix: check MEMBANK_DATA_DIR and its permissions, or MEMBANK_DATABASE_URL and the server"
    )


@_render.register
def _os(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}; fix: check the path and its permissions"


def describe(exc: BaseException) -> str:
    """The error as one line: its cause and a fix (the most specific rule of its class hierarchy)."""
    return _single_line(_render(exc))


def _single_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


class OneLineErrors(click.Group):
    """A click group whose commands end on any error with `Error: <cause>; fix: <fix>` on stderr, exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError:
            raise  # click's own message: the usage line and what was wrong with the arguments
        except click.ClickException as exc:
            raise click.ClickException(_single_line(exc.message)) from None
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("traceback"):
                raise
            raise click.ClickException(describe(exc)) from None
