"""Caches through the real API: two instances sharing one PostgreSQL and one Redis see each other's writes
at once (revision keys), share query vectors and answers through Redis, warm up from it; a Redis outage
costs nothing but the cache, /health says so, and service comes back by itself."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.testclient import TestClient

from membank.api import create_app
from membank.bootstrap import Container
from membank.config import Settings
from tests.api.conftest import Api, open_api
from tests.support.redis import RedisServer, start_redis

FAST_BREAKER = {"redis_breaker_seconds": 0.2, "redis_breaker_max_seconds": 0.5}


def ranking_cache(api: Api) -> Any:
    search = container(api).search
    assert search is not None and search.cache is not None
    return search.cache.cache


def container(api: Api) -> Container:
    found: Container = api.client.app.state.container  # type: ignore[attr-defined]
    return found


@contextlib.contextmanager
def second_instance(first: Api, settings: Settings) -> Iterator[Api]:
    """Another app on the same database, with the first one's keys."""
    with TestClient(create_app(settings)) as client:
        yield Api(client, first.alice_key, first.bob_key, first.reader_key, settings)


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def synthesize(api: Api, query: str, **fields: Any) -> dict[str, Any]:
    response = api.call(
        "POST", "/api/v1/memories/synthesize-context", json={"user_id": "u1", "query": query, **fields}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def search_ids(api: Api, query: str) -> list[str] | None:
    response = api.search(query)
    if response.status_code == 503:  # the index is still being built
        return None
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["data"]["memories"]]


def outbox_empty(api: Api) -> bool:
    return bool(api.call("GET", "/health").json()["data"]["outbox_pending"] == 0)


def test_a_write_through_one_instance_makes_the_other_answer_fresh_at_once(
    make_settings: Callable[..., Settings], postgres_url: str, redis_url: str, tmp_path: Any
) -> None:
    common = {
        "store": "postgres",
        "database_url": postgres_url,
        "redis_url": redis_url,
        "index_probe_seconds": 0.2,
    }
    with open_api(make_settings(data_dir=tmp_path / "a", **common)) as a:
        lattes = a.add("User likes lattes", memory_type="preference")["id"]
        a.add("User drinks green tea in the morning", memory_type="preference")
        assert search_ids(a, "what does the user drink") is not None  # a query vector now in Redis
        wait_until(lambda: outbox_empty(a))
        with second_instance(a, make_settings(data_dir=tmp_path / "b", **common)) as b:
            # Warm-up: B's embedder holds A's query vector before B was asked anything.
            b_vectors = container(b).embedder.batcher.cache  # type: ignore[attr-defined]
            assert b_vectors.get_local(_digest("what does the user drink")) is not None
            wait_until(lambda: lattes in (search_ids(b, "lattes") or []))

            first = synthesize(b, "drinks")
            assert first["cached"] is False and "lattes" in first["context"]
            assert synthesize(b, "drinks")["cached"] is True
            # A has never answered it: its L1 misses, Redis has B's answer.
            shared = synthesize(a, "drinks")
            assert shared["cached"] is True and shared["context"] == first["context"]
            assert lattes in (search_ids(b, "lattes") or [])
            search_hits_before = ranking_cache(b).stats.hits["l1"]
            assert lattes in (search_ids(b, "lattes") or [])
            assert ranking_cache(b).stats.hits["l1"] == search_hits_before + 1

            assert a.call("DELETE", f"/api/v1/memories/{lattes}").status_code == 200
            # B's very next answers are fresh, although B's own index may still hold the memory.
            after = synthesize(b, "drinks")
            assert after["cached"] is False and "lattes" not in after["context"]
            assert lattes not in (search_ids(b, "lattes") or [])

            a.add("User drinks oat milk flat whites", memory_type="preference")
            assert synthesize(b, "drinks")["cached"] is False


def _digest(text: str) -> str:
    from membank.providers.embedders.cache import text_digest

    return text_digest(text)


def test_query_vectors_are_shared_but_document_vectors_stay_local(
    make_settings: Callable[..., Settings], redis_server: RedisServer
) -> None:
    with open_api(make_settings(redis_url=redis_server.url(), redis_key_prefix="dep1:")) as api:
        api.add("User owns a red bicycle")
        assert api.search("what does the user ride").status_code == 200
        with redis_server.client() as client:
            keys = {key.decode() for key in client.keys("*")}
        vector_keys = {k for k in keys if k.startswith("dep1:emb:")}
        assert (
            f"dep1:emb:{container(api).embedder.model_id}:384:{_digest('what does the user ride')}"
            in vector_keys
        )
        assert not any(k.endswith(_digest("User owns a red bicycle")) for k in keys)
        assert all(k.startswith("dep1:") for k in keys)


def test_metrics_report_hits_and_misses_by_cache_and_layer_and_the_hit_ratio(api: Api) -> None:
    api.add("User likes jazz")
    for _ in range(3):
        assert api.search("music taste").status_code == 200
    text = api.call("GET", "/metrics").text
    for name in ("embeddings", "search"):
        for layer in ("l1", "l2"):
            assert f'membank_cache_hits_total{{cache="{name}",layer="{layer}"}}' in text
            assert f'membank_cache_misses_total{{cache="{name}",layer="{layer}"}}' in text
    ratio = [line for line in text.splitlines() if line.startswith('membank_cache_hit_ratio{cache="search"}')]
    assert ratio and 0.0 < float(ratio[0].split()[-1]) <= 1.0


def test_a_down_redis_costs_only_the_cache_health_says_so_and_it_comes_back(
    make_settings: Callable[..., Settings],
) -> None:
    password = "Redis-pw-never-shown-3d2"
    with start_redis(password=password) as redis_server:
        settings = make_settings(redis_url=redis_server.url(), log_level="INFO", **FAST_BREAKER)
        with open_api(settings) as api:
            api.add("User likes lattes")
            assert search_ids(api, "coffee") is not None
            health = api.call("GET", "/health").json()["data"]
            assert health["components"]["redis"]["status"] == "ok"

            redis_server.stop()
            started = time.perf_counter()
            for i in range(10):
                response = api.search(f"coffee question {i}")
                assert response.status_code == 200, response.text
            assert time.perf_counter() - started < 5.0  # no Redis timeout on every request
            assert synthesize(api, "coffee")["cached"] is False
            assert synthesize(api, "coffee")["cached"] is True  # the in-process L1 keeps serving
            response = api.call("GET", "/health")
            assert response.status_code == 200  # degraded, still serving
            body = response.json()["data"]
            assert body["status"] == "degraded"
            assert body["components"]["redis"]["status"] == "degraded"
            assert "ConnectionError" in body["components"]["redis"]["error"]
            assert password not in response.text and "redis://" not in response.text
            assert api.call("GET", "/health/ready").status_code == 200

            redis_server.restart()
            wait_until(
                lambda: api.call("GET", "/health").json()["data"]["components"]["redis"]["status"] == "ok",
                5.0,
            )
            assert api.search("coffee question 0").status_code == 200
            assert synthesize(api, "hot drinks")["cached"] is False
            with redis_server.client() as client:
                assert any(key.startswith(b"membank:ctx:") for key in client.keys("*"))


def test_a_ranking_is_cached_per_request_and_scoring_configuration(api: Api) -> None:
    api.add("User likes jazz")
    wait_until(lambda: outbox_empty(api))

    def cached(**options: Any) -> bool:
        response = api.search("music taste", explain=True, **options)
        assert response.status_code == 200, response.text
        return bool(response.json()["data"]["timings"]["cached"])

    assert cached() is False
    assert cached() is True
    assert cached(limit=3) is False  # another request
    service = container(api).search
    assert service is not None
    service.weights = dataclasses.replace(service.weights, recency_weight=0.2)
    assert cached() is False  # other weights rank otherwise: never served an old ranking
    assert cached() is True
    api.add("User plays the saxophone")
    wait_until(lambda: outbox_empty(api))
    assert cached() is False  # the user's write
