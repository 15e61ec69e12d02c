"""Reading /metrics in API tests: the registry is per process, so tests compare samples before and after."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(api: Api) -> Samples:
    text = api.call("GET", "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How far one sample moved between the two reads (a sample not there yet counts as 0)."""
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)
