"""Every PromQL expression of the Grafana dashboard parses: promtool checks them as recording rules, with
Grafana's variables replaced by values of theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.grafana import load_dashboard, panel_expressions
from tests.support.promtool import BUILD_LIMIT_SECONDS, built_promtool, run_promtool

# A value of each variable the panels use, as Grafana interpolates it.
VARIABLES = {"$__rate_interval": "1m", "$__range": "6h", "$job": "membank.*"}


@pytest.mark.timeout(BUILD_LIMIT_SECONDS + 60)
def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    promtool = built_promtool()
    rules = []
    for number, expr in enumerate(panel_expressions(load_dashboard())):
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"a variable without a test value in {expr!r}"
        rules.append({"record": f"dashboard:panel_expression:{number}", "expr": expr})
    assert len(rules) > 40
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = run_promtool(promtool, "check", "rules", str(rule_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
