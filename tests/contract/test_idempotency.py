"""IdempotencyRepository contract, over the database (SQLite, PostgreSQL) and Redis reservations over a
SQLite store of responses: a key is reserved by one request at a time, its response
stored once and replayed; a failed request's reservation is released; a stale one (its request died) is
taken over; of requests racing on real threads exactly one reserves."""

from __future__ import annotations

from functools import partial

from membank.storage.ports import IdempotencyRepository, StoredResponse
from tests.contract.racing import run_together

STALE_AFTER = 300.0


def _response(request_hash: str = "hash-a", status: int = 201) -> StoredResponse:
    return StoredResponse(request_hash, status, {"data": {"id": "m-1", "n": 2**63 - 1, "text": "café ☕"}})


def test_a_free_key_is_reserved_and_then_reported_as_running(idempotency: IdempotencyRepository) -> None:
    assert idempotency.reserve("t1", "key-1", "hash-a", 1000.0, STALE_AFTER) is None

    running = idempotency.reserve("t1", "key-1", "hash-a", 1001.0, STALE_AFTER)

    assert running is not None
    assert (running.request_hash, running.status) == ("hash-a", 0)
    # A different request under the same key sees whose key it is (its hash), to answer 409.
    other = idempotency.reserve("t1", "key-1", "hash-b", 1002.0, STALE_AFTER)
    assert other is not None and (other.request_hash, other.status) == ("hash-a", 0)


def test_a_stored_response_is_replayed_exactly(idempotency: IdempotencyRepository) -> None:
    idempotency.reserve("t1", "key-1", "hash-a", 1000.0, STALE_AFTER)

    idempotency.put("t1", "key-1", _response(), 1001.0)

    assert idempotency.get("t1", "key-1") == _response()
    assert idempotency.reserve("t1", "key-1", "hash-a", 1002.0, STALE_AFTER) == _response()
    # However old: a stored response is never taken over.
    assert idempotency.reserve("t1", "key-1", "hash-a", 1e9, STALE_AFTER) == _response()


def test_the_first_stored_response_is_kept(idempotency: IdempotencyRepository) -> None:
    idempotency.reserve("t1", "key-1", "hash-a", 1000.0, STALE_AFTER)
    idempotency.put("t1", "key-1", _response(status=201), 1001.0)

    idempotency.put("t1", "key-1", _response(status=500), 1002.0)
    idempotency.put("t1", "key-1", _response("hash-b", 200), 1003.0)

    assert idempotency.get("t1", "key-1") == _response(status=201)


def test_put_of_a_key_not_reserved_stores_it(idempotency: IdempotencyRepository) -> None:
    idempotency.put("t1", "key-1", _response(), 1000.0)

    assert idempotency.get("t1", "key-1") == _response()


def test_put_with_another_request_hash_does_not_overwrite_a_reservation(
    idempotency: IdempotencyRepository,
) -> None:
    idempotency.reserve("t1", "key-1", "hash-a", 1000.0, STALE_AFTER)

    idempotency.put("t1", "key-1", _response("hash-b"), 1001.0)

    held = idempotency.get("t1", "key-1")
    assert held is not None and (held.request_hash, held.status) == ("hash-a", 0)


def test_release_frees_a_reservation_but_never_a_stored_response(idempotency: IdempotencyRepository) -> None:
    idempotency.reserve("t1", "failed", "hash-a", 1000.0, STALE_AFTER)
    idempotency.reserve("t1", "done", "hash-a", 1000.0, STALE_AFTER)
    idempotency.put("t1", "done", _response(), 1001.0)

    idempotency.release("t1", "failed")
    idempotency.release("t1", "done")

    assert idempotency.get("t1", "failed") is None
    assert idempotency.reserve("t1", "failed", "hash-c", 1002.0, STALE_AFTER) is None
    assert idempotency.get("t1", "done") == _response()


def test_a_stale_reservation_is_taken_over_by_the_next_request(idempotency: IdempotencyRepository) -> None:
    idempotency.reserve("t1", "key-1", "hash-a", 1000.0, STALE_AFTER)

    assert idempotency.reserve("t1", "key-1", "hash-b", 1000.0 + STALE_AFTER - 1, STALE_AFTER)
    assert idempotency.reserve("t1", "key-1", "hash-b", 1000.0 + STALE_AFTER + 1, STALE_AFTER) is None

    held = idempotency.get("t1", "key-1")
    assert held is not None and (held.request_hash, held.status) == ("hash-b", 0)
    # The taker's reservation is fresh: the next request finds it running, not stale.
    again = idempotency.reserve("t1", "key-1", "hash-a", 1000.0 + STALE_AFTER + 2, STALE_AFTER)
    assert again is not None and again.request_hash == "hash-b"


def test_keys_are_per_tenant(idempotency: IdempotencyRepository) -> None:
    idempotency.reserve("t1", "key-1", "hash-a", 1000.0, STALE_AFTER)
    idempotency.put("t1", "key-1", _response(), 1001.0)

    assert idempotency.get("t2", "key-1") is None
    assert idempotency.reserve("t2", "key-1", "hash-z", 1002.0, STALE_AFTER) is None
    assert idempotency.get("t1", "key-1") == _response()


def test_of_requests_racing_on_one_key_exactly_one_reserves(idempotency: IdempotencyRepository) -> None:
    racers = 8
    for round_ in range(5):
        key = f"raced-{round_}"

        def reserve(number: int, key: str = key) -> StoredResponse | None:
            return idempotency.reserve("t1", key, f"hash-{number}", 1000.0, STALE_AFTER)

        outcomes = run_together([partial(reserve, n) for n in range(racers)])

        winners = [n for n, outcome in enumerate(outcomes) if outcome is None]
        assert len(winners) == 1
        held = idempotency.get("t1", key)
        assert held is not None and (held.request_hash, held.status) == (f"hash-{winners[0]}", 0)
        # Every loser was told who holds the key.
        assert {outcome.request_hash for outcome in outcomes if outcome is not None} == {held.request_hash}
