"""One real `membank serve` per test module of the adapters, with keys of two tenants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Served, served_module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_module(tmp_path_factory.mktemp("adapters")) as module_server:
        yield module_server


@pytest.fixture(scope="module")
def tenant_key(server: Served) -> str:
    return server.key("adapters-a")


@pytest.fixture(scope="module")
def other_tenant_key(server: Served) -> str:
    return server.key("adapters-b")


@pytest.fixture
def user() -> str:
    """A user of its own for each test (the module's tests share one server's data)."""
    return f"u-{uuid.uuid4().hex[:12]}"
