"""Every call to the Qdrant server goes through `ServerCalls`: retries, a circuit breaker, one error type.

- Transient failures are retried with exponential back-off and jitter (tenacity): the connection refused,
  reset or timed out (httpx transport errors, which qdrant-client wraps in `ResponseHandlingException`),
  HTTP 5xx, and 429 (the server's rate limit, waiting as long as its Retry-After says, up to 5 s). Every call the adapters make is idempotent (upserts and
  deletes by id, reads), so a retried write that had been applied changes nothing.
- After `breaker_failures` calls in a row that failed that way, the breaker opens: calls fail at once (no
  connection attempt) for `breaker_reset_seconds`, then one trial call goes through (half-open).
- Whatever fails leaves as `IndexUnavailable` (cause ``unreachable`` for the above and an open breaker,
  ``missing`` when the collection is gone, ``error`` for any other refusal, e.g. 401 or 400), with a message
  built by us: the API key never appears in it (it is removed from anything the server or client said).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import httpx
import tenacity
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from membank.errors import IndexUnavailable
from membank.resilience import CircuitBreaker

__all__ = ["ServerCalls"]

T = TypeVar("T")
_MAX_BACKOFF_SECONDS = 5.0
_MAX_DETAIL = 300


class ServerCalls:
    """Runs operations against one Qdrant endpoint (`where` names it in messages, without credentials)."""

    def __init__(
        self,
        where: str,
        *,
        retries: int,
        backoff_seconds: float,
        breaker: CircuitBreaker,
        secrets: Sequence[str] = (),
        serialize: bool = False,
    ) -> None:
        """`serialize` runs one operation at a time: qdrant-client's local mode (a Python dict and one
        SQLite connection) is not safe to use from several threads; a server is."""
        self.where = where
        self.breaker = breaker
        self._retries = retries
        self._backoff_seconds = backoff_seconds
        self._secrets = [secret for secret in secrets if secret]
        self._one_at_a_time: contextlib.AbstractContextManager[object] = (
            threading.Lock() if serialize else contextlib.nullcontext()
        )

    def __call__(self, what: str, operation: Callable[[], T]) -> T:
        """The result of `operation` (`what` it does, for messages); IndexUnavailable on any failure."""
        if not self.breaker.allow():
            raise IndexUnavailable(
                f"{self.where} is failing: not called for {self.breaker.retry_in:.1f}s more "
                "(circuit breaker open); writes wait in the outbox",
                cause="unreachable",
                details={"breaker": "open"},
            )
        try:
            result = self._with_retries(operation)
        except Exception as exc:
            if transient(exc):
                self.breaker.record_failure()
                raise IndexUnavailable(
                    f"{self.where} is unreachable ({what}): {self._describe(exc)}", cause="unreachable"
                ) from None
            # The server answered (or the client refused before sending): it is up.
            self.breaker.release()
            raise self._refusal(what, exc) from None
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    def _with_retries(self, operation: Callable[[], T]) -> T:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(transient),
            reraise=True,
        )
        for attempt in retrying:
            with attempt, self._one_at_a_time:
                return operation()
        raise AssertionError("tenacity returns or raises")  # pragma: no cover - reraise=True

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential back-off with jitter, or longer when a 429 said how long (capped either way)."""
        backoff = tenacity.wait_exponential_jitter(
            multiplier=self._backoff_seconds, jitter=self._backoff_seconds, max=_MAX_BACKOFF_SECONDS
        )(state)
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, ResourceExhaustedResponse):
            return min(max(backoff, float(failure.retry_after_s)), _MAX_BACKOFF_SECONDS)
        return backoff

    def _refusal(self, what: str, exc: Exception) -> IndexUnavailable:
        if _collection_missing(exc):
            return IndexUnavailable(
                f"the collection on {self.where} is gone ({what}); it is rebuilt from the system of record",
                cause="missing",
            )
        return IndexUnavailable(f"{self.where} refused to {what}: {self._describe(exc)}", cause="error")

    def _describe(self, exc: BaseException) -> str:
        """What went wrong, in words that carry no secret (the client's text has the API key removed)."""
        if isinstance(exc, ResponseHandlingException):
            exc = exc.source
        if isinstance(exc, UnexpectedResponse):
            body = exc.content.decode("utf-8", "replace")[:_MAX_DETAIL]
            text = f"HTTP {exc.status_code} {exc.reason_phrase}: {body}"
        elif isinstance(exc, ResourceExhaustedResponse):
            text = f"HTTP 429 (rate limited, retry after {exc.retry_after_s}s)"
        else:
            text = f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def transient(exc: BaseException) -> bool:
    """Whether a failure may pass by itself: no answer (connection, timeout) or a 5xx/429 answer."""
    if isinstance(exc, ResponseHandlingException):
        return isinstance(exc.source, httpx.TransportError)
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429)
    return isinstance(exc, httpx.TransportError | ResourceExhaustedResponse)


def _collection_missing(exc: Exception) -> bool:
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    # qdrant-client's local mode says so with a ValueError.
    return (
        isinstance(exc, ValueError) and str(exc).startswith("Collection ") and str(exc).endswith(" not found")
    )
