"""`membank usage-report`: a month's usage and cost per tenant, the capacity forecast and the
recommendations, read from the configured store."""

from __future__ import annotations

from typing import Any

import click
import orjson

from membank.config import Settings
from membank.observability.logging import configure_logging_from
from membank.observability.usage import UsageMeter
from membank.usage.report import current_month


@click.command("usage-report")
@click.option("--month", default=None, help="The UTC month, YYYY-MM (default: this month).")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant (its id).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
def usage_report(month: str | None, tenant_id: str | None, as_json: bool) -> None:
    """A month's usage and cost per tenant, the capacity forecast and recommendations."""
    from membank.bootstrap import build_store, build_usage_reports

    settings = Settings()
    configure_logging_from(settings)
    store = build_store(settings)
    try:
        reporter, _ = build_usage_reports(settings, store, UsageMeter(store.usage))
        report = reporter.monthly(month or current_month(), tenant_id=tenant_id)
    finally:
        store.close()
    if as_json:
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(_text(report))


def _text(report: dict[str, Any]) -> str:
    lines = [f"Usage {report['from']} to {report['to']}", ""]
    header = ("tenant", "memories", "bytes", "requests", "searches", "writes", "facts", "jobs", "LLM $")
    rows = [header]
    for tenant in report["tenants"]:
        activity = tenant["activity"]
        rows.append(
            (
                tenant["tenant"] or tenant["tenant_id"],
                str(tenant["storage"]["memories"]),
                str(tenant["storage"]["content_bytes"]),
                str(activity["requests"]),
                str(activity["searches"]),
                str(activity["memory_writes"]),
                str(activity["conversation_facts"]),
                str(activity["jobs"]),
                f"{tenant['llm_cost_usd']:.4f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    forecast = report["forecast"]
    lines += ["", f"Capacity ({forecast.get('history_days', 0)} days of history)"]
    for resource in ("disk", "memory"):
        if resource in forecast:
            growth = forecast[resource]["growth_per_day"]
            error = forecast[resource]["growth_stderr"]
            spread = f" ± {2 * error:,.0f}" if error is not None else ""
            lines.append(
                f"  {resource}: {growth:+,.0f}{spread} bytes/day; {forecast[resource]['until_full']['verdict']}"
            )
    if "verdict" in forecast:
        lines.append(f"  {forecast['verdict']}")
    lines += ["", "Recommendations"]
    lines += [f"  - {item['message']}" for item in report["recommendations"]] or ["  none"]
    return "\n".join(lines)
