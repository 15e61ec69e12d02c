"""Real `membank serve` processes for the SDK's tests (one per module), and both twins of the client.

Every test that takes `client` runs twice, with `MemBank` and with `AsyncMemBank`: `resolve` awaits what the
async twin returns and passes the sync twin's results through, so one test body covers both."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from membank.client import AsyncMemBank, MemBank
from tests.e2e.conftest import ADMIN_KEY, Server


def server_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("MEMBANK_")}
    values.update(
        {
            "MEMBANK_DATA_DIR": str(data_dir),
            "MEMBANK_ADMIN_API_KEY": ADMIN_KEY,
            "MEMBANK_LOG_LEVEL": "INFO",
            "MEMBANK_JOB_POLL_SECONDS": "0.05",
            "MEMBANK_OUTBOX_POLL_SECONDS": "0.1",
            **overrides,
        }
    )
    return values


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("sdk")
    started = Server(server_env(root / "data"), root / "serve.log")
    yield started
    started.stop()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which twin a test runs with."""
    return str(request.param)


@pytest.fixture
async def client(kind: str, server: Server) -> AsyncIterator[Any]:
    """`MemBank` or `AsyncMemBank` with the admin key."""
    made = twin(kind, server.url, api_key=ADMIN_KEY)
    yield made
    await close(made)


def twin(kind: str, url: str, **options: Any) -> Any:
    """A client of either kind with the given options."""
    return MemBank(url, **options) if kind == "sync" else AsyncMemBank(url, **options)


async def close(client: Any) -> None:
    await resolve(client.close())


async def resolve(value: Any) -> Any:
    """The result of a twin's call: awaited for the async twin."""
    return await value if inspect.isawaitable(value) else value


async def collect(iterator: Any) -> list[Any]:
    """Every item of a twin's iterator (sync or async)."""
    if hasattr(iterator, "__aiter__"):
        return [item async for item in iterator]
    return list(iterator)
