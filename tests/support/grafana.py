"""The Grafana dashboard of deploy/grafana: its panels and the PromQL they and its variables query."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARD", "load_dashboard", "panel_expressions", "panels", "variable_queries"]

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "membank.json"


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels inside collapsed rows included."""

    def walk(level: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in level:
            yield panel
            yield from walk(panel.get("panels", []))

    return walk(dashboard["panels"])


def panel_expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]


def variable_queries(dashboard: dict[str, Any]) -> list[str]:
    """The queries of the query variables (Grafana's label_values(...), not PromQL)."""
    return [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
