"""The SDK's pure decisions: which error class an answer becomes, which failures are retried and how long
to wait before a retry."""

from __future__ import annotations

from typing import Any

import orjson

from membank.client import MemBankConnectionError, MemBankError, NotFound, RetryPolicy, Unauthorized
from membank.client.call import Call
from membank.client.errors import error_from_answer
from membank.client.transport import Transport


def _envelope(code: str) -> bytes:
    return orjson.dumps({"success": False, "error": {"code": code, "message": "m", "details": {"a": 1}}})


def test_a_code_unknown_to_the_sdk_becomes_its_status_family() -> None:
    error = error_from_answer(404, _envelope("WIDGET_NOT_FOUND"), {"x-request-id": "req-1"})
    assert type(error) is NotFound
    assert (error.code, error.status, error.details, error.request_id) == (
        "WIDGET_NOT_FOUND",
        404,
        {"a": 1},
        "req-1",
    )
    assert type(error_from_answer(418, _envelope("TEAPOT"), {})) is MemBankError
    assert type(error_from_answer(401, _envelope("UNAUTHORIZED"), {})) is Unauthorized


def test_a_body_that_is_not_an_envelope_keeps_its_status_and_text() -> None:
    error = error_from_answer(502, b"<html>\n  Bad   Gateway</html>", {"retry-after": "7"})
    assert (error.code, error.status, error.retry_after) == ("HTTP_502", 502, 7.0)
    assert error.message == "<html> Bad Gateway</html>"
    assert error_from_answer(503, b"", {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}).retry_after is None


def test_waits_honour_retry_after_and_stay_bounded() -> None:
    policy = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=1.5, max_wait=10)
    for _ in range(200):
        assert 2.0 <= (policy.wait(0, 2.0) or 0) <= 2.2
        assert 0.25 <= (policy.wait(0, None) or 0) <= 0.5
        assert 0.75 <= (policy.wait(2, None) or 0) <= 1.5  # 2.0 capped at max_backoff
    assert policy.wait(0, 11.0) is None  # longer than max_wait: raise instead of waiting
    assert policy.wait(3, None) is None and policy.wait(3, 1.0) is None


def _call(method: str, *, retry_safe: bool) -> Call[Any]:
    return Call(method, "/api/v1/memories", None, {}, {"Idempotency-Key": "k1"}, dict, retry_safe)


def _decides(call: Call[Any], retry: int, error: MemBankError) -> bool:
    transport = Transport(
        "http://127.0.0.1:9",
        api_key=None,
        token=None,
        sign_requests=False,
        timeout=1.0,
        retry=RetryPolicy(max_retries=5),
        headers=None,
    )
    try:
        transport.next_wait(call, retry, error)
    except MemBankError as raised:
        assert raised is error
        return False
    return True


def test_which_failures_are_retried() -> None:
    create, patch = _call("POST", retry_safe=True), _call("PATCH", retry_safe=False)
    busy = error_from_answer(409, _conflict("Idempotency-Key"), {})
    assert not _decides(create, 0, busy)  # the first attempt: the caller may have reused the key
    assert _decides(create, 1, busy)  # a retry: the first attempt is still running
    assert not _decides(create, 1, error_from_answer(409, _conflict(None), {}))
    unavailable = error_from_answer(503, _envelope("OVERLOADED"), {"retry-after": "1"})
    assert _decides(create, 0, unavailable) and not _decides(patch, 0, unavailable)
    assert _decides(patch, 0, error_from_answer(429, _envelope("RATE_LIMIT_EXCEEDED"), {}))
    assert not _decides(create, 0, error_from_answer(400, _envelope("VALIDATION_ERROR"), {}))
    assert _decides(patch, 0, MemBankConnectionError("refused", request_sent=False))
    assert not _decides(patch, 0, MemBankConnectionError("reset", request_sent=True))
    assert _decides(create, 0, MemBankConnectionError("reset", request_sent=True))
    assert not _decides(create, 5, unavailable)  # max_retries spent


def _conflict(field: str | None) -> bytes:
    details = {"field": field} if field else {}
    return orjson.dumps({"success": False, "error": {"code": "CONFLICT", "message": "m", "details": details}})
