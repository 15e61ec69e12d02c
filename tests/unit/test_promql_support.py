"""The metric-name extractor of tests/support/promql.py, on the shapes the dashboard and the rules use."""

from __future__ import annotations

import pytest

from tests.support.promql import exposed_families, metric_names, unexposed


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.95, sum by (route, le) (rate(a_seconds_bucket{job=~"$job"}[$__rate_interval])))',
            {"a_seconds_bucket"},
        ),
        ("sum(rate(a_total[5m])) by (job) / ignoring (state) group_left b > bool 0.9", {"a_total", "b"}),
        ('a{route=~"/x/{id}|sum(b)", le="0.05"} and on (job, route) c_total', {"a", "c_total"}),
        ("a - (a offset 30m or a * 0) > 1e3 * 4 * 1024", {"a"}),
        ("job:a_errors:ratio_rate1h > (14.4 * 0.001) unless absent(up)", {"job:a_errors:ratio_rate1h", "up"}),
        ("rate(a[$__range]) * ${factor} + max_over_time(b[1h30m:1m])", {"a", "b"}),
        ("label_values(up{job=~'membank.*'}, job)", {"up"}),
    ],
)
def test_metric_names_keep_the_selected_names_only(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


PAGE = """# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{le="0.05"} 1.0
h_seconds_count 1.0
h_seconds_sum 0.01
# HELP c_total A counter.
# TYPE c_total counter
c_total 2.0
# HELP g A labelled gauge with no sample yet.
# TYPE g gauge
"""


def test_exposed_families_read_the_type_lines() -> None:
    assert exposed_families(PAGE) == {"h_seconds": "histogram", "c_total": "counter", "g": "gauge"}


def test_unexposed_accepts_histogram_series_and_declared_families_only() -> None:
    families = exposed_families(PAGE)
    assert unexposed({"h_seconds_bucket", "h_seconds_count", "h_seconds", "c_total", "g"}, families) == set()
    # A counter has no _count series, a counter's name needs its _total, and unknown names are reported.
    assert unexposed({"c_count", "c", "g_bucket", "missing_total"}, families) == {
        "c_count",
        "c",
        "g_bucket",
        "missing_total",
    }
