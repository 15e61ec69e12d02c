"""Capacity forecasts fitted over a stored daily history (a real SQLite store): the growth and the days until
the disk is full come out of a noisy linear history with a range that holds the truth; too short a history
gives no forecast; and the recommendations carry the numbers they rest on."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from membank.config import LlmPrice
from membank.errors import ValidationFailed
from membank.observability.usage import UsageMeter, utc_day
from membank.storage.ports import CapacitySnapshot, UsageRecord
from membank.storage.sql.store import SqlRecordStore
from membank.usage.capacity import CapacityRecorder, fit_trend
from membank.usage.report import UsageReporter, current_month, month_bounds

DAY = 86_400.0
GIB = 2**30


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlRecordStore]:
    opened = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    opened.migrate()
    yield opened
    opened.close()


def _history(store: SqlRecordStore, days: int, *, growth: float, free_now: float, noise: float) -> float:
    """`days` daily snapshots ending today: used bytes growing by `growth` a day (± `noise`), the disk's free
    space shrinking by as much; the last one has `free_now` free. Returns now."""
    now = time.time()
    rng = random.Random(7)
    for back in range(days - 1, -1, -1):
        at = now - back * DAY
        used = 10 * GIB + growth * (days - 1 - back) + rng.uniform(-noise, noise)
        store.usage.record_capacity(
            CapacitySnapshot(
                day=utc_day(at),
                memories=1000 + 50 * (days - 1 - back),
                content_bytes=0,
                store_bytes=int(used),
                index_bytes=0,
                disk_free_bytes=int(free_now + growth * back),
                disk_size_bytes=100 * GIB,
                rss_bytes=500 * 2**20,
                memory_size_bytes=8 * GIB,
                recorded_at=at,
            )
        )
    return now


def test_a_noisy_linear_history_forecasts_the_days_until_full_with_a_range_holding_the_truth(
    store: SqlRecordStore, tmp_path: Path
) -> None:
    now = _history(store, 30, growth=0.05 * GIB, free_now=3 * GIB, noise=0.01 * GIB)
    forecast = CapacityRecorder(store.usage, data_dir=tmp_path, index_dir=None).forecast(at=now)

    assert forecast["history_days"] == 30
    disk = forecast["disk"]
    assert disk["growth_per_day"] == pytest.approx(0.05 * GIB, rel=0.05)
    assert disk["growth_stderr"] > 0
    until = disk["until_full"]
    assert until["days"] == pytest.approx(60, rel=0.08)  # 3 GiB free at 0.05 GiB a day
    soonest, latest = until["range_days"]
    assert soonest < 60 < latest
    assert forecast["memories"]["growth_per_day"] == pytest.approx(50, rel=0.01)
    assert forecast["memory"]["until_full"]["verdict"] == "not growing at this trend"


def test_a_history_of_two_days_gives_no_forecast_and_says_why(store: SqlRecordStore, tmp_path: Path) -> None:
    now = _history(store, 2, growth=GIB, free_now=GIB, noise=0)
    until = CapacityRecorder(store.usage, data_dir=tmp_path, index_dir=None).forecast(at=now)["disk"][
        "until_full"
    ]
    assert until == {"days": None, "range_days": None, "verdict": "not enough history (2 days; 3 needed)"}


def test_no_snapshot_no_forecast(store: SqlRecordStore, tmp_path: Path) -> None:
    forecast = CapacityRecorder(store.usage, data_dir=tmp_path, index_dir=None).forecast()
    assert forecast == {"history_days": 0, "verdict": "no snapshot yet"}


def test_a_snapshot_measures_the_store_and_the_index_files(store: SqlRecordStore, tmp_path: Path) -> None:
    index = tmp_path / "vectors"
    index.mkdir()
    (index / "segment").write_bytes(b"x" * 4096)
    snapshot = CapacityRecorder(store.usage, data_dir=tmp_path, index_dir=index).snapshot()
    assert snapshot.index_bytes == 4096 and snapshot.store_bytes > 0
    assert 0 < snapshot.disk_free_bytes <= snapshot.disk_size_bytes
    assert 0 < snapshot.rss_bytes < snapshot.memory_size_bytes
    assert store.usage.capacity_history(since_day=snapshot.day) == [snapshot]


def test_the_fit_of_exact_points_has_no_error() -> None:
    trend = fit_trend([0, 1, 2, 3], [5, 7, 9, 11])
    assert (trend.per_day, trend.stderr, trend.points) == (2, 0, 4)


def _reporter(store: SqlRecordStore, tmp_path: Path, meter: UsageMeter) -> UsageReporter:
    capacity = CapacityRecorder(store.usage, data_dir=tmp_path, index_dir=None)
    prices = {"gpt-test": LlmPrice(prompt=2.0, completion=8.0)}
    return UsageReporter(store.usage, store.keys, meter, capacity, prices)


@pytest.mark.parametrize(("facts", "flagged"), [(2, True), (20, False)])
def test_extraction_that_stores_little_is_flagged_with_its_numbers(
    store: SqlRecordStore, tmp_path: Path, facts: int, flagged: bool
) -> None:
    tenant = store.keys.ensure_tenant("chatty")
    for _ in range(12):
        store.usage.record(UsageRecord(tenant.id, None, "extraction", "gpt-test", 1000, 100, time.time()))
    meter = UsageMeter(store.usage)
    meter.count(tenant.id, "conversation_facts", facts)  # not flushed: the report adds what is pending
    report = _reporter(store, tmp_path, meter).monthly(current_month())

    found = [r for r in report["recommendations"] if r["kind"] == "extraction_low_yield"]
    if not flagged:
        assert found == []
        return
    (recommendation,) = found
    assert recommendation["tenant_id"] == tenant.id and "chatty" in recommendation["message"]
    assert recommendation["numbers"] == {
        "extraction_runs": 12,
        "facts_stored": 2,
        "facts_per_run": round(2 / 12, 3),
        "extraction_cost_usd": pytest.approx(12 * (1000 * 2.0 + 100 * 8.0) / 1e6),
        "share_of_llm_cost": 1.0,
    }


def test_a_short_disk_runway_is_recommended_against(store: SqlRecordStore, tmp_path: Path) -> None:
    _history(store, 10, growth=GIB, free_now=10 * GIB, noise=0.01 * GIB)
    report = _reporter(store, tmp_path, UsageMeter(store.usage)).monthly(current_month())
    (runway,) = [r for r in report["recommendations"] if r["kind"] == "disk_runway"]
    assert runway["numbers"]["days"] == pytest.approx(10, rel=0.1)
    assert "grow the data volume" in runway["message"]


@pytest.mark.parametrize("month", ["2026-13", "2026/12", "december"])
def test_a_bad_month_is_refused_naming_the_field(month: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        month_bounds(month)
    assert refused.value.details["field"] == "month"


def test_the_cli_report_reads_the_configured_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from membank.cli.main import cli

    data_dir = tmp_path / "data"
    store = SqlRecordStore.sqlite(data_dir / "membank.sqlite3")
    store.migrate()
    tenant = store.keys.ensure_tenant("acme")
    store.usage.add_counts({(tenant.id, utc_day(time.time()), "searches"): 7})
    store.usage.record(UsageRecord(tenant.id, None, "extraction", "gpt-test", 1000, 100, time.time()))
    store.close()
    env = {
        "MEMBANK_DATA_DIR": str(data_dir),
        "MEMBANK_LLM_PRICES": '{"gpt-test": {"prompt": 2, "completion": 8}}',
    }

    as_json = CliRunner().invoke(cli, ["usage-report", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    (acme,) = report["tenants"]
    assert acme["tenant"] == "acme" and acme["activity"]["searches"] == 7
    assert acme["llm_cost_usd"] == pytest.approx(0.0028)

    table = CliRunner().invoke(cli, ["usage-report"], env=env)
    assert table.exit_code == 0, table.output
    (row,) = [line for line in table.stdout.splitlines() if line.startswith("acme")]
    assert row.split()[4] == "7" and row.split()[-1] == "0.0028"

    refused = CliRunner().invoke(cli, ["usage-report", "--month", "2026-13"], env=env)
    assert refused.exit_code == 1 and "month must be YYYY-MM" in refused.output
