"""The Grafana dashboard (deploy/grafana/membank.json): every panel queries the `datasource` variable, no two
panels overlap, and every PromQL expression parses (promtool checks them as recording rules, with Grafana's
variables replaced by values of theirs). tests/api/test_dashboard_metrics_api.py checks the metric names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.go_tools import BUILD_LIMIT_SECONDS, built_tool, run_tool
from tests.support.grafana import load_dashboard, panel_expressions, panels

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# A value of each variable the panels use, as Grafana interpolates it.
VARIABLES = {"$__rate_interval": "1m", "$__range": "6h", "$job": "membank.*"}


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    promtool = built_tool("promtool")
    rules = []
    for number, expr in enumerate(panel_expressions(load_dashboard())):
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"a variable without a test value in {expr!r}"
        rules.append({"record": f"dashboard:panel_expression:{number}", "expr": expr})
    assert len(rules) > 40
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = run_tool(promtool, "check", "rules", str(rule_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_panel_queries_the_datasource_variable() -> None:
    dashboard = load_dashboard()
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    queried = [panel for panel in panels(dashboard) if panel["type"] != "row"]
    assert len(queried) > 30
    for panel in queried:
        assert panel["targets"], panel["title"]
        sources = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
        assert all(source == DATASOURCE for source in sources), panel["title"]


def test_no_two_panels_overlap_and_ids_are_unique() -> None:
    laid = list(panels(load_dashboard()))
    assert len({panel["id"] for panel in laid}) == len(laid)
    cells: dict[tuple[int, int], str] = {}
    for panel in laid:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
