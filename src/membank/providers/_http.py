"""What every client of an OpenAI-compatible HTTP API shares: which failures are worth retrying, how long to
wait before the next attempt, and how to quote a server's error without ever quoting a credential."""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from opentelemetry import propagate
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

T = TypeVar("T")

__all__ = [
    "Retryable",
    "backoff_delay",
    "error_text",
    "propagate_trace",
    "redact",
    "retry_after",
    "retryable_response",
    "transport_failure",
    "with_retries",
]


class Retryable(Exception):
    """A failure that another attempt may not meet: 429, 5xx, a timeout or a broken connection."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


async def propagate_trace(request: httpx.Request) -> None:
    """An httpx request hook: the current W3C trace context (`traceparent`, `tracestate`) on the request, so
    the provider's side of the call joins the caller's trace."""
    propagate.inject(request.headers)


def backoff_delay(state: RetryCallState, *, initial: float, maximum: float) -> float:
    """Seconds before the next attempt: exponential with jitter, at least `Retry-After`, never above `maximum`."""
    # Jitter, so that many clients throttled at once do not retry in lockstep.
    exponential = initial * 2.0 ** (state.attempt_number - 1)
    delay = min(maximum, exponential + random.uniform(0, initial))
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, Retryable) and exc.retry_after is not None:
        delay = max(delay, min(exc.retry_after, maximum))
    return delay


async def with_retries(
    call: Callable[[], Awaitable[T]], *, attempts: int, initial: float, maximum: float
) -> T:
    """`call`'s result, retried on `Retryable` with `backoff_delay` up to `attempts` times in all; the last
    `Retryable` propagates for the caller to turn into its own error."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=lambda state: backoff_delay(state, initial=initial, maximum=maximum),
        retry=retry_if_exception_type(Retryable),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or raises")


def transport_failure(exc: httpx.TransportError, secret: str) -> Retryable:
    """A timeout or connection error as a retryable failure whose reason names no credential."""
    if isinstance(exc, httpx.TimeoutException):
        return Retryable(f"timed out ({type(exc).__name__})")
    return Retryable(redact(f"{type(exc).__name__}: {exc}", secret))


def retryable_response(response: httpx.Response) -> Retryable | None:
    """The failure to retry when `response` is a 429 or a 5xx, else None."""
    status = response.status_code
    if status == 429 or status >= 500:
        return Retryable(f"HTTP {status}", status=status, retry_after=retry_after(response))
    return None


def retry_after(response: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds, or None when absent or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


_ERROR_CHARS = 200
# Tokens that look like credentials whoever they belong to: a bearer token, an OpenAI-style `sk-` key.
_TOKENS = re.compile(r"(?i)\bbearer\s+[^\s'\",;]+|\bsk-[A-Za-z0-9_\-]{8,}")


def error_text(response: httpx.Response, secret: str) -> str:
    """The server's own error message with credentials masked, then shortened.

    Masking runs on the whole text before it is cut: a credential straddling the cut would otherwise survive
    as a prefix that no longer matches the secret.
    """
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text
    else:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            text = str(error.get("message", error))
        else:
            text = str(error if error is not None else body)
    return redact(text, secret)[:_ERROR_CHARS]


def redact(message: str, secret: str) -> str:
    """`message` with every occurrence of `secret`, and anything shaped like a bearer token or an `sk-` key,
    masked."""
    if secret:
        message = message.replace(secret, "***")
    return _TOKENS.sub("***", message)
