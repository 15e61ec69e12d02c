"""Shared fixtures: settings on a fresh data directory per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from membank.config import Settings


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on this test's own data directory, quick job timings, overridable per test."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "workers": 1,
            "job_poll_seconds": 0.05,
            "job_lease_seconds": 5.0,
            "job_backoff_seconds": 0.05,
            "outbox_poll_seconds": 0.1,
            "key_cache_seconds": 0.0,
            "log_json": False,
            "log_level": "WARNING",
            **overrides,
        }
        return Settings(**values)

    return make
