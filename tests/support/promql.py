"""Metric names in PromQL expressions, and whether a /metrics page exposes them: what the tests of the Grafana
dashboard and the alert rules (deploy/) check, so that a renamed or dropped metric fails a test instead of
leaving an empty panel or an alert that can never fire.

Not a PromQL parser: it strips what holds no metric name (strings, label matchers, label lists of by /
without / on / ignoring, ranges, Grafana variables and label_values' label, numbers and durations) and keeps the identifiers that are
neither a function call nor a keyword.
"""

from __future__ import annotations

import re

__all__ = ["exposed_families", "metric_names", "unexposed"]

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
# Grafana's variable query label_values(<selector>, <label>): its last argument is a label, not a metric.
_LABEL_VALUES = re.compile(r"\blabel_values\s*\((.*),\s*\w+\s*\)", re.DOTALL)
# A number or duration (1e3, 0.95, 30m, 1h30m) is consumed whole, so that its unit is not taken for a name.
_TOKENS = re.compile(
    r"(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?:[a-z]+\d*)*)|(?P<name>[A-Za-z_:][\w:]*)(?P<call>\s*\()?"
)
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "atan2", "inf", "nan"}
)
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
# The series a histogram (or summary) exposes under its family's name.
_SERIES_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (recording-rule names, with colons, included)."""
    text = _LABEL_VALUES.sub(r"(\1)", _STRINGS.sub(" ", expr))
    for pattern in (_LABEL_LISTS, _MATCHERS, _RANGES, _VARIABLES):
        text = pattern.sub(" ", text)
    return {
        token["name"]
        for token in _TOKENS.finditer(text)
        if token["name"] and not token["call"] and token["name"].lower() not in _KEYWORDS
    }


def exposed_families(metrics_text: str) -> dict[str, str]:
    """Family name -> type from the `# TYPE` lines of a Prometheus text page. A labelled metric that has no
    sample yet (an LLM counter before the first call) is declared there too."""
    return dict(_TYPE_LINE.findall(metrics_text))


def unexposed(names: set[str], families: dict[str, str]) -> set[str]:
    """The names that no family declares: a family's own name, or `_bucket`, `_sum` and `_count` of a
    histogram or summary."""
    missing = set()
    for name in names:
        if name in families:
            continue
        bases = [name.removesuffix(suffix) for suffix in _SERIES_SUFFIXES if name.endswith(suffix)]
        if not any(families.get(base) in ("histogram", "summary") for base in bases):
            missing.add(name)
    return missing
