"""The Grafana dashboard and the Prometheus rules of deploy/ ask only for metrics that GET /metrics serves: every
metric name in a panel, a dashboard variable or a rule is declared on the page after a small scenario (a
memory written, a search), or is a recording rule of alerts.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.api.conftest import Api
from tests.support.grafana import load_dashboard, panel_expressions, variable_queries
from tests.support.promql import exposed_families, metric_names, unexposed

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
# Made by Prometheus itself (target health, firing alerts), not by MemBank.
PROMETHEUS_OWN = frozenset({"up", "ALERTS"})


def _families_after_a_scenario(api: Api) -> dict[str, str]:
    api.add("alice likes green tea")
    assert api.search("tea").status_code == 200
    page = api.call("GET", "/metrics")
    assert page.status_code == 200, page.text
    return exposed_families(page.text)


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_every_dashboard_metric_is_served(api: Api) -> None:
    families = _families_after_a_scenario(api)
    dashboard = load_dashboard()
    names = set().union(*map(metric_names, panel_expressions(dashboard) + variable_queries(dashboard)))
    assert {"membank_search_latency_seconds_bucket", "membank_cache_hits_total"} <= names  # read them all
    assert unexposed(names - PROMETHEUS_OWN, families) == set()


def test_every_rule_metric_is_served_or_recorded(api: Api) -> None:
    families = _families_after_a_scenario(api)
    rules = _rules()
    recorded = {rule["record"] for rule in rules if "record" in rule}
    names = set().union(*(metric_names(rule["expr"]) for rule in rules))
    assert {"membank_audit_events_total", "job:membank_availability_errors:ratio_rate1h"} <= names
    assert {name for name in names if ":" in name} <= recorded
    assert unexposed(names - recorded - PROMETHEUS_OWN, families) == set()
