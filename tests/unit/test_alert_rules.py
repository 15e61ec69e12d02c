"""deploy/prometheus/alerts.yml: promtool accepts the rules, its unit tests (alerts_test.yml) pass and can fail,
every alert carries what an on-call person needs, and the important alerts are tested both firing on an
incident and silent on healthy series.

promtool is built once from its Go module by deploy/tools/go-tool.sh promtool (`make go-tools` does it before the
suite); without a Go toolchain the promtool tests skip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool, run_tool

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
ALERT_TESTS = RULES_DIR / "alerts_test.yml"
IMPORTANT = {
    "MemBankApiDown",
    "MemBankAvailabilityBudgetBurnFast",
    "MemBankSearchP95BudgetBurnFast",
    "MemBankRedisDown",
    "MemBankJobBacklog",
    "MemBankDeadJobs",
    "MemBankLoginFailures",
    "MemBankRefreshTokenReuse",
    "MemBankApiKeyRefused",
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return built_tool("promtool")


def _alerts() -> Iterator[dict[str, Any]]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        yield from (rule for rule in group["rules"] if "alert" in rule)


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_promtool_accepts_the_rules(promtool: Path) -> None:
    checked = run_tool(promtool, "check", "rules", "--lint=all", "--lint-fatal", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_the_rule_unit_tests_pass(promtool: Path) -> None:
    tested = run_tool(promtool, "test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_the_rule_unit_tests_fail_on_a_broken_rule(promtool: Path, tmp_path: Path) -> None:
    healthy = 'expr: up{job="membank"} == 0'
    assert healthy in ALERTS.read_text()
    (tmp_path / ALERTS.name).write_text(ALERTS.read_text().replace(healthy, 'expr: up{job="membank"} == 2'))
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    tested = run_tool(promtool, "test", "rules", str(tmp_path / ALERT_TESTS.name))
    assert tested.returncode != 0
    assert "alertname: MemBankApiDown" in tested.stdout + tested.stderr


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook() -> None:
    alerts = list(_alerts())
    assert len(alerts) > 30
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, alert["alert"]
        missing = [key for key in ("summary", "description", "runbook") if not alert["annotations"].get(key)]
        assert not missing, (alert["alert"], missing)


def test_the_important_alerts_are_tested_firing_and_silent() -> None:
    known = {alert["alert"] for alert in _alerts()}
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert known >= IMPORTANT
    assert fired >= IMPORTANT
    assert silent >= IMPORTANT
    assert known >= {case["alertname"] for case in cases}  # a test of a renamed alert would pass vacuously
