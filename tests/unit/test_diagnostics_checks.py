"""The checks that read only the settings or the process: configuration risks, the routes' latency window."""

from __future__ import annotations

import time
from pathlib import Path

from membank.config import Settings
from membank.diagnostics.config_checks import check_secrets, check_transport
from membank.diagnostics.resources import check_disk
from membank.diagnostics.windows import check_embedding_latency
from membank.observability.embedding_latency import EmbeddingLatencyWindow
from membank.observability.route_latency import RouteLatencyWindow


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_plain_text_beyond_loopback_is_named_by_setting(tmp_path: Path) -> None:
    assert check_transport(_settings(tmp_path)).verdict == "ok"
    exposed = check_transport(
        _settings(
            tmp_path,
            host="0.0.0.0",
            store="postgres",
            database_url="postgresql://membank:s3cr3t-long-password@db.internal:5432/membank",
            redis_url="redis://:pw@redis.internal:6379/0",
        )
    )
    assert exposed.verdict == "warn"
    assert exposed.detail["settings"] == ["MEMBANK_HOST", "MEMBANK_REDIS_URL", "MEMBANK_DATABASE_URL"]
    behind_tls = check_transport(
        _settings(
            tmp_path,
            host="0.0.0.0",
            trusted_proxies=["10.0.0.0/8"],
            store="postgres",
            database_url="postgresql://membank:pw@db.internal:5432/membank?sslmode=verify-full",
            redis_url="rediss://:pw@redis.internal:6379/0",
        )
    )
    assert behind_tls.verdict == "ok", behind_tls.detail


def test_example_secrets_are_named_never_shown(tmp_path: Path) -> None:
    assert check_secrets(_settings(tmp_path, admin_api_key="x" * 40)).verdict == "ok"
    weak = check_secrets(
        _settings(
            tmp_path,
            admin_api_key="short-key",
            store="postgres",
            database_url="postgresql://membank:secret@db.internal:5432/membank",
        )
    )
    assert weak.verdict == "fail"
    assert weak.detail["settings"] == ["MEMBANK_ADMIN_API_KEY", "MEMBANK_DATABASE_URL"]
    assert weak.detail["auth_secret_key_from_file"] is True
    assert "secret" not in str(weak.detail["settings"]) and "short-key" not in str(weak)
    assert weak.action is not None and "MEMBANK_AUTH_SECRET_KEY" in weak.action
    shared = check_secrets(
        _settings(tmp_path, store="postgres", database_url="postgresql://m:x7Yq2-long@db:5432/m")
    )
    assert shared.verdict == "warn" and shared.detail["weak"] == 0


def test_disk_below_the_index_floor_fails(tmp_path: Path) -> None:
    assert check_disk(tmp_path, warn_below=1, fail_below=0).verdict == "ok"
    assert check_disk(tmp_path, warn_below=2**62, fail_below=0).verdict == "warn"
    failed = check_disk(tmp_path, warn_below=2**62, fail_below=2**61)
    assert failed.verdict == "fail" and failed.detail["free_bytes"] < 2**61


def test_the_latency_window_is_bounded_and_forgets_old_requests() -> None:
    window = RouteLatencyWindow(max_routes=2, samples=4)
    for n in range(10):
        window.record("GET", "/a", 0.01 * (n + 1), at=1000.0 + n)
    window.record("GET", "/b", 0.5, at=1000.0)
    window.record("GET", "/c", 9.0, at=1000.0)  # a third route is past the cap: not tracked
    ranked = window.slowest(window_seconds=100, top=5, now=1010.0)
    assert [(r.route, r.requests) for r in ranked] == [("/b", 1), ("/a", 4)]
    assert ranked[1].max_seconds == 0.1 and ranked[1].p95_seconds == 0.1
    assert [r.route for r in window.slowest(window_seconds=5, top=5, now=1010.0)] == ["/a"]


def _embedding_window(
    *, baseline_ms: float, recent_ms: float, recent_batches: int = 30
) -> EmbeddingLatencyWindow:
    """30 batches of 8 texts 30 minutes ago at `baseline_ms` per text, then `recent_batches` in the last
    minutes at `recent_ms`."""
    window = EmbeddingLatencyWindow()
    now = time.time()
    for n in range(30):
        window.record(8, 8 * baseline_ms / 1000, at=now - 1800 - n)
    for n in range(recent_batches):
        window.record(8, 8 * recent_ms / 1000, at=now - 60 - n)
    return window


def test_an_embedder_slower_per_text_than_the_hour_before_is_a_regression() -> None:
    slow = check_embedding_latency(_embedding_window(baseline_ms=2.0, recent_ms=10.0), slowdown_ratio=2.0)
    assert slow.verdict == "warn" and slow.detail["slowdown"] == 5.0
    assert slow.detail["recent_ms_per_text"] == 10.0 and slow.detail["baseline_ms_per_text"] == 2.0
    assert slow.action is not None and "slower per text" in slow.action
    assert slow.detail["batch_size_up_to"] == 8
    steady = check_embedding_latency(_embedding_window(baseline_ms=2.0, recent_ms=3.0), slowdown_ratio=2.0)
    assert steady.verdict == "ok"
    # Too few recent calls to tell a regression from noise.
    sparse = _embedding_window(baseline_ms=2.0, recent_ms=10.0, recent_batches=5)
    assert check_embedding_latency(sparse, slowdown_ratio=2.0).verdict == "ok"


def test_bigger_batches_are_not_a_slower_model() -> None:
    window = EmbeddingLatencyWindow()
    now = time.time()
    for n in range(30):
        window.record(1, 0.002, at=now - 1800 - n)  # 2 ms for one text
        window.record(64, 0.128, at=now - 60 - n)  # 128 ms for 64 texts: the same 2 ms per text
    assert check_embedding_latency(window, slowdown_ratio=2.0).verdict == "ok"
