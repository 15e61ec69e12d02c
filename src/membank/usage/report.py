"""Usage and cost per tenant over a period, and recommendations that come with the numbers behind them.

Activity counts (requests, searches, writes, jobs, embedded texts) are the store's daily rows plus what this
process has not flushed yet; LLM tokens come from the per-call records and cost from the price table
(MEMBANK_LLM_PRICES, by the model the server answered with); storage is what each tenant keeps now.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from membank.cache.stats import process_totals
from membank.config import LlmPrice
from membank.errors import ValidationFailed
from membank.observability.usage import USAGE_METRICS, UsageMeter
from membank.storage.ports import KeyRepository, LlmUsageTotal, UsageRepository
from membank.usage.capacity import CapacityRecorder

__all__ = ["UsageReporter", "month_bounds"]

# Recommendation thresholds: an extraction that stores fewer facts per run than this over at least this many
# runs spends on small talk; a runway shorter than this many days needs action; a cache answering less than
# this share of at least this many lookups costs memory for nothing.
_LOW_YIELD_FACTS_PER_RUN = 0.5
_LOW_YIELD_MIN_RUNS = 10
_RUNWAY_WARN_DAYS = 30.0
_CACHE_MIN_HIT_RATIO = 0.1
_CACHE_MIN_LOOKUPS = 1000


def month_bounds(month: str) -> tuple[str, str]:
    """The first and last UTC day (YYYY-MM-DD) of a YYYY-MM month."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValidationFailed(
            "month must be YYYY-MM", details={"field": "month", "value": month[:20]}
        ) from None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first.isoformat(), last.isoformat()


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(value: str, field: str) -> date:
    try:
        if not _ISO_DAY.match(value):  # fromisoformat also takes 20261201 and 2026-W49-1
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a date (YYYY-MM-DD)", details={"field": field, "value": value[:20]}
        ) from None


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class UsageReporter:
    def __init__(
        self,
        usage: UsageRepository,
        keys: KeyRepository,
        meter: UsageMeter,
        capacity: CapacityRecorder,
        prices: Mapping[str, LlmPrice],
    ) -> None:
        self._usage = usage
        self._keys = keys
        self._meter = meter
        self._capacity = capacity
        self._prices = prices

    def report(self, since_day: str, until_day: str, *, tenant_id: str | None = None) -> dict[str, Any]:
        """Usage of every tenant (or one) over the UTC days [since_day, until_day] (blocking). A period that
        ends before it starts is empty: no activity, storage as it is now."""
        first, last = _day(since_day, "from"), _day(until_day, "to")
        counts = self._usage.counts(since_day=first.isoformat(), until_day=last.isoformat())
        for (tenant, day, metric), amount in self._meter.pending().items():
            if first.isoformat() <= day <= last.isoformat():
                tenant_counts = counts.setdefault(tenant, {})
                tenant_counts[metric] = tenant_counts.get(metric, 0) + amount
        llm = self._usage.llm_totals(since=_epoch(first), until=_epoch(last) + 86_400.0)
        storage = {entry.tenant_id: entry for entry in self._usage.storage()}
        names = {tenant.id: tenant.name for tenant in self._keys.tenants()}
        ids = sorted({*counts, *storage, *(row.tenant_id for row in llm)})
        if tenant_id is not None:
            ids = [tenant_id] if tenant_id in ids else []
        tenants = [self._tenant(tid, names, counts, storage, llm) for tid in ids]
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "tenants": tenants,
            "totals": _totals(tenants),
            "priced_models": sorted(self._prices),
        }

    def monthly(self, month: str, *, tenant_id: str | None = None) -> dict[str, Any]:
        """The month's usage, the capacity forecast and the recommendations (blocking)."""
        since_day, until_day = month_bounds(month)
        report = self.report(since_day, until_day, tenant_id=tenant_id)
        forecast = self._capacity.forecast()
        return {
            "month": month,
            **report,
            "forecast": forecast,
            "recommendations": recommendations(report, forecast),
        }

    def _tenant(
        self,
        tenant_id: str,
        names: Mapping[str, str],
        counts: Mapping[str, Mapping[str, int]],
        storage: Mapping[str, Any],
        llm: list[LlmUsageTotal],
    ) -> dict[str, Any]:
        kept = storage.get(tenant_id)
        calls = [self._llm_row(row) for row in llm if row.tenant_id == tenant_id]
        return {
            "tenant_id": tenant_id,
            "tenant": names.get(tenant_id),
            "storage": {
                "memories": kept.memories if kept else 0,
                "live": kept.live if kept else 0,
                "content_bytes": kept.content_bytes if kept else 0,
                "vectors": kept.memories if kept else 0,
            },
            "activity": {metric: counts.get(tenant_id, {}).get(metric, 0) for metric in USAGE_METRICS},
            "llm": calls,
            "llm_cost_usd": round(sum(row["cost_usd"] for row in calls), 6),
        }

    def _llm_row(self, row: LlmUsageTotal) -> dict[str, Any]:
        price = self._prices.get(row.model)
        cost = (
            (row.prompt_tokens * price.prompt + row.completion_tokens * price.completion) / 1e6
            if price is not None
            else 0.0
        )
        return {
            "model": row.model,
            "purpose": row.purpose,
            "runs": row.calls,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "cost_usd": round(cost, 6),
            "priced": price is not None,
        }


def _totals(tenants: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tenants": len(tenants),
        "memories": sum(t["storage"]["memories"] for t in tenants),
        "content_bytes": sum(t["storage"]["content_bytes"] for t in tenants),
        "activity": {metric: sum(t["activity"][metric] for t in tenants) for metric in USAGE_METRICS},
        "llm_cost_usd": round(sum(t["llm_cost_usd"] for t in tenants), 6),
        "llm_tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for t in tenants for r in t["llm"]),
    }


def recommendations(report: Mapping[str, Any], forecast: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What an operator could change, each with the numbers it rests on."""
    found: list[dict[str, Any]] = []
    for tenant in report["tenants"]:
        found.extend(_low_yield_extraction(tenant))
    for resource, fix in (
        ("disk", "grow the data volume, or erase histories no one needs (hard deletes)"),
        ("memory", "give the process more memory, or lower the cache sizes (MEMBANK_*_CACHE_SIZE)"),
    ):
        until = forecast.get(resource, {}).get("until_full", {})
        days = until.get("days")
        if days is not None and days < _RUNWAY_WARN_DAYS:
            found.append(
                {
                    "kind": f"{resource}_runway",
                    "message": f"the {resource} is full in about {days:g} days at the current growth: {fix}",
                    "numbers": {
                        "days": days,
                        "range_days": until.get("range_days"),
                        "growth_per_day": forecast[resource]["growth_per_day"],
                    },
                }
            )
    for name, stats in sorted(process_totals().items()):
        lookups = stats.hits["l1"] + stats.misses["l1"]
        ratio = stats.hit_ratio
        if ratio is not None and lookups >= _CACHE_MIN_LOOKUPS and ratio < _CACHE_MIN_HIT_RATIO:
            found.append(
                {
                    "kind": "cache_low_hit_ratio",
                    "message": f"the {name} cache answers {ratio:.0%} of {lookups} lookups in this process:"
                    f" its entries rarely repeat; lower MEMBANK_{name.upper()}_CACHE_SIZE to save memory",
                    "numbers": {"cache": name, "hit_ratio": round(ratio, 3), "lookups": lookups},
                }
            )
    return found


def _low_yield_extraction(tenant: Mapping[str, Any]) -> list[dict[str, Any]]:
    runs = [row for row in tenant["llm"] if row["purpose"] == "extraction"]
    count = sum(row["runs"] for row in runs)
    if count < _LOW_YIELD_MIN_RUNS:
        return []
    facts = tenant["activity"]["conversation_facts"]
    per_run = facts / count
    if per_run >= _LOW_YIELD_FACTS_PER_RUN:
        return []
    spent = sum(row["cost_usd"] for row in runs)
    share = spent / tenant["llm_cost_usd"] if tenant["llm_cost_usd"] else None
    who = tenant["tenant"] or tenant["tenant_id"]
    spend = f" (${spent:.2f}, {share:.0%} of its LLM spend)" if share is not None else ""
    return [
        {
            "kind": "extraction_low_yield",
            "tenant_id": tenant["tenant_id"],
            "message": f"tenant {who}: {count} LLM extraction runs{spend} stored {facts} facts,"
            f" {per_run:.2f} per run: most conversations it sends are small talk. Send only the turns that"
            " may hold facts, or serve it from a deployment on the heuristic tier (no MEMBANK_LLM_BASE_URL)",
            "numbers": {
                "extraction_runs": count,
                "facts_stored": facts,
                "facts_per_run": round(per_run, 3),
                "extraction_cost_usd": round(spent, 6),
                "share_of_llm_cost": None if share is None else round(share, 3),
            },
        }
    ]


def current_month(at: float | None = None) -> str:
    return time.strftime("%Y-%m", time.gmtime(at if at is not None else time.time()))
