"""The Grafana dashboard and the Prometheus rules of deploy/ ask only for metrics that GET /metrics serves: every
metric name in a panel, a dashboard variable or a rule is declared on the page after a small scenario (a
memory written, a search), or is a recording rule of alerts.yml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.api.conftest import Api
from tests.support.promql import exposed_families, metric_names, unexposed

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "membank.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
# Made by Prometheus itself for every target, not by MemBank.
PROMETHEUS_OWN = frozenset({"up"})
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _families_after_a_scenario(api: Api) -> dict[str, str]:
    api.add("alice likes green tea")
    assert api.search("tea").status_code == 200
    page = api.call("GET", "/metrics")
    assert page.status_code == 200, page.text
    return exposed_families(page.text)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def _dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in _panels(dashboard["panels"]) for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["query"]["query"])
    return exprs


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_every_dashboard_metric_is_served(api: Api) -> None:
    families = _families_after_a_scenario(api)
    names = set().union(*map(metric_names, _dashboard_expressions(json.loads(DASHBOARD.read_text()))))
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


def test_every_panel_queries_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    queried = [panel for panel in _panels(dashboard["panels"]) if panel["type"] != "row"]
    assert queried
    for panel in queried:
        sources = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
        assert all(source == DATASOURCE for source in sources), panel["title"]
        assert panel["targets"], panel["title"]
