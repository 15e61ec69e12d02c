"""A pytest plugin that runs the API and e2e suites on PostgreSQL with the pgvector index in it:
`python -m pytest -p tests.support.on_pgvector tests/api tests/e2e` (see `on_postgres`, which it extends)."""

from __future__ import annotations

import pytest

from tests.support.on_postgres import _on_postgres

__all__ = ["_on_postgres", "_with_pgvector"]


@pytest.fixture(autouse=True)
def _with_pgvector(
    _on_postgres: None, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMBANK_VECTOR_INDEX", "pgvector")
    if "env" in request.fixturenames:
        request.getfixturevalue("env")["MEMBANK_VECTOR_INDEX"] = "pgvector"
