"""Sending calls: auth, signing, retries with back-off, timeouts, reading envelopes.

`Transport` holds everything both twins share (building each attempt's request, reading the answer, deciding
whether and how long to wait before the next attempt); `SyncTransport` and `AsyncTransport` only add the
loop around httpx's sync or async client and the matching sleep.

Retries: a 429 is retried for every request (the server refuses before doing anything: rate limit, full job
queue, locked login); a 409 about the Idempotency-Key on a retry (the first attempt is still running); a
503/502/504, a broken connection or a timeout only for a retry-safe call (a read, an
idempotent method, or a create with an Idempotency-Key, which the creating operations always send); a
connection that was never made for every request. The wait honours Retry-After (a bit more, with jitter) and
is otherwise exponential with jitter; after `max_retries` retries, or when Retry-After asks for longer than
`max_wait`, the error is raised with its `retry_after`."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from membank.client.call import Call
from membank.client.errors import (
    MemBankConnectionError,
    MemBankError,
    MemBankTimeoutError,
    error_from_answer,
)
from membank.client.signing import sign_request

__all__ = ["AsyncTransport", "RetryPolicy", "SyncTransport", "Transport"]

T = TypeVar("T")
USER_AGENT = "membank-python/0.1.0"
# Failures of which the server saw nothing: the connection was never made.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRIED_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_retries` after the first attempt; waits of `backoff` seconds doubling up to `max_backoff`
    (half of each random), or Retry-After when the server sends it and it is at most `max_wait`."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 60.0

    def wait(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds before retry number `retry` (0-based), or None: give up."""
        if retry >= self.max_retries:
            return None
        if retry_after is not None:
            # A little later than asked, spread out, so that refused clients do not all return at once.
            return retry_after * random.uniform(1.0, 1.1) if retry_after <= self.max_wait else None
        ceiling = min(self.max_backoff, self.backoff * 2**retry)
        return random.uniform(ceiling / 2, ceiling)


class Transport:
    """The configuration and the sans-I/O half of sending a call."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        token: str | None,
        sign_requests: bool,
        timeout: float,
        retry: RetryPolicy,
        headers: dict[str, str] | None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must be an http(s) URL such as http://127.0.0.1:8080, got {base_url!r}"
            )
        if api_key and token:
            raise ValueError("give api_key or token, not both")
        if sign_requests and not api_key:
            raise ValueError("sign_requests needs api_key: requests are signed with the key's secret")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self._api_key = api_key
        self._sign = sign_requests
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if api_key:
            self.headers["X-API-Key"] = api_key
        elif token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        """One attempt's request (signed anew: a signature's nonce is good for one request)."""
        content = orjson.dumps(call.json) if call.json is not None else None
        headers = dict(call.headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = http.build_request(
            call.method, call.path, params=call.query, content=content, headers=headers
        )
        if self._sign and self._api_key:
            request.headers.update(sign_request(self._api_key, call.method, str(request.url), content or b""))
        return request

    def read(self, call: Call[T], response: httpx.Response) -> T:
        """The call's result from a 2xx answer."""
        if call.text:
            return call.parse(response.text)
        try:
            data = orjson.loads(response.content)["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise MemBankError(
                f"{call.method} {call.path} answered {response.status_code} without an envelope ({exc})",
                code="BAD_RESPONSE",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from None
        return call.parse(data)

    def failure(self, call: Call[Any], exc: httpx.TransportError) -> MemBankConnectionError:
        """The SDK's error for an attempt that got no answer."""
        sent = not isinstance(exc, _NOT_SENT)
        what = f"{call.method} {call.path}"
        if isinstance(exc, httpx.TimeoutException):
            error: MemBankConnectionError = MemBankTimeoutError(
                f"the MemBank server at {self.base_url} did not answer {what} within {self.timeout} s "
                f"({type(exc).__name__})",
                request_sent=sent,
            )
        else:
            error = MemBankConnectionError(
                f"cannot reach the MemBank server at {self.base_url} ({what}: {exc or type(exc).__name__})",
                request_sent=sent,
            )
        error.__cause__ = exc
        return error

    def next_wait(self, call: Call[Any], retry: int, error: MemBankError) -> float:
        """Seconds to wait before retrying after `error`; raises `error` when it is not to be retried."""
        if call.retries and self._retryable(call, retry, error):
            wait = self.retry.wait(retry, error.retry_after)
            if wait is not None:
                return wait
        raise error

    @staticmethod
    def _retryable(call: Call[Any], retry: int, error: MemBankError) -> bool:
        if isinstance(error, MemBankConnectionError):
            return call.retry_safe or not error.request_sent
        if error.status == 409 and error.details.get("field") == "Idempotency-Key":
            # A retry sends the first attempt's exact request with its key: the server can only be saying
            # that the first attempt is still running (on a first attempt the key may be a reused one).
            return retry > 0
        return error.status == 429 or (error.status in _RETRIED_STATUSES and call.retry_safe)


class SyncTransport(Transport):
    def __init__(self, base_url: str, **options: Any) -> None:
        super().__init__(base_url, **options)
        self.http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    def send(self, call: Call[T]) -> T:
        retry = 0
        while True:
            try:
                response = self.http.send(self.request(self.http, call))
            except httpx.TransportError as exc:
                error: MemBankError = self.failure(call, exc)
            else:
                if response.is_success:
                    return self.read(call, response)
                error = error_from_answer(response.status_code, response.content, response.headers)
            time.sleep(self.next_wait(call, retry, error))
            retry += 1

    def close(self) -> None:
        self.http.close()


class AsyncTransport(Transport):
    def __init__(self, base_url: str, **options: Any) -> None:
        super().__init__(base_url, **options)
        self.http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    async def send(self, call: Call[T]) -> T:
        retry = 0
        while True:
            try:
                response = await self.http.send(self.request(self.http, call))
            except httpx.TransportError as exc:
                error: MemBankError = self.failure(call, exc)
            else:
                if response.is_success:
                    return self.read(call, response)
                error = error_from_answer(response.status_code, response.content, response.headers)
            await asyncio.sleep(self.next_wait(call, retry, error))
            retry += 1

    async def close(self) -> None:
        await self.http.aclose()
