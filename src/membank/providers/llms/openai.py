"""Any OpenAI-compatible `/v1/chat/completions` API: OpenAI, vLLM, Ollama, llama.cpp's server and
llama-cpp-python's server.

Output is constrained by a JSON schema. OpenAI, vLLM, Ollama and llama.cpp's `llama-server` accept OpenAI's
`{"type": "json_schema", "json_schema": {...}}`; llama-cpp-python's server accepts only
`{"type": "json_object", "schema": {...}}` and answers HTTP 500 to the other. With `response_format="auto"` the
client sends OpenAI's form and, when a server rejects it naming `response_format`, switches to the
llama-cpp-python form for the rest of its life (one extra request, once).

429 (honouring `Retry-After`, capped), 5xx, timeouts and connection errors are retried with exponential
backoff; a circuit breaker stops calling a service that keeps failing. Every error is an LLMServiceError whose
message never contains the API key, and the key is not part of the client's repr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import httpx
import structlog
from pydantic import SecretStr

from membank.config import Settings
from membank.errors import LLMServiceError
from membank.providers._http import (
    Retryable,
    error_text,
    propagate_trace,
    redact,
    retryable_response,
    transport_failure,
    with_retries,
)
from membank.providers.llms.ports import ChatCompletion, ChatMessage, TokenUsage
from membank.resilience import CircuitBreaker

__all__ = ["INPUT_REJECTED", "OpenAIChatModel", "ResponseFormat"]

log = structlog.get_logger(__name__)

ResponseFormat = Literal["auto", "json_schema", "json_object"]

# Details key of an LLMServiceError caused by this request (not by the service): it does not count
# against the breaker, and retrying the same request elsewhere would not help.
INPUT_REJECTED = "input_rejected"


class OpenAIChatModel:
    """The `ChatModel` port over an OpenAI-compatible chat completions API.

    `base_url` ends with the API version (`https://api.openai.com/v1`, `http://127.0.0.1:8000/v1`).
    `http_requests` counts every request sent (retries included).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        response_format: ResponseFormat = "auto",
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._api_key = api_key if api_key is not None else SecretStr("")
        self._timeout = timeout
        self._max_attempts = max_retries + 1
        self._format: ResponseFormat = response_format
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self.breaker = CircuitBreaker(failures=breaker_failures, reset_seconds=breaker_reset_seconds)
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self.http_requests = 0

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> OpenAIChatModel:
        """A client configured by the `MEMBANK_LLM_*` settings; `options` override the keyword arguments."""
        if settings.llm_base_url is None:
            raise ValueError("MEMBANK_LLM_BASE_URL is not set")
        values: dict[str, Any] = {
            "base_url": settings.llm_base_url,
            "model": settings.llm_model,
            "api_key": settings.llm_api_key,
            "timeout": settings.llm_timeout_seconds,
            "max_retries": settings.llm_max_retries,
            "backoff_initial": settings.llm_backoff_seconds,
            "breaker_failures": settings.llm_breaker_failures,
            "breaker_reset_seconds": settings.llm_breaker_reset_seconds,
            **options,
        }
        return cls(**values)

    def __repr__(self) -> str:
        return f"OpenAIChatModel(base_url={self._base_url!r}, model={self._model!r})"

    @property
    def model(self) -> str:
        return self._model

    @property
    def response_format(self) -> ResponseFormat:
        """The form of `response_format` in use ("auto" until a server has told us otherwise)."""
        return self._format

    async def complete_json(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: dict[str, Any],
        schema_name: str,
        max_tokens: int,
    ) -> ChatCompletion:
        """One schema-constrained completion, retried on transient failures. Raises LLMServiceError."""
        if not self.breaker.allow():
            raise LLMServiceError(
                f"circuit breaker open (next try in {self.breaker.retry_in:.1f}s)",
                details={"breaker": "open"},
            )
        try:
            completion = await self._with_retries(list(messages), schema, schema_name, max_tokens)
        except LLMServiceError as exc:
            if exc.details.get(INPUT_REJECTED):
                self.breaker.release()
            else:
                self.breaker.record_failure()
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return completion

    async def aclose(self) -> None:
        """Close the connection pool; later calls fail."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _with_retries(
        self, messages: list[ChatMessage], schema: dict[str, Any], schema_name: str, max_tokens: int
    ) -> ChatCompletion:
        try:
            return await with_retries(
                lambda: self._request(messages, schema, schema_name, max_tokens),
                attempts=self._max_attempts,
                initial=self._backoff_initial,
                maximum=self._backoff_max,
            )
        except Retryable as exc:
            attempts = self._max_attempts
            raise LLMServiceError(
                self._redact(f"{exc.reason} after {attempts} attempt{'s' if attempts > 1 else ''}"),
                details={"status": exc.status, "attempts": attempts},
            ) from None

    def _http(self) -> httpx.AsyncClient:
        if self._closed:
            raise LLMServiceError("the LLM client is closed")
        if self._client is None:
            headers = {"Accept": "application/json"}
            key = self._api_key.get_secret_value()
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.AsyncClient(
                base_url=self._base_url + "/",
                headers=headers,
                timeout=httpx.Timeout(self._timeout),
                event_hooks={"request": [propagate_trace]},
            )
        return self._client

    async def _request(
        self, messages: list[ChatMessage], schema: dict[str, Any], schema_name: str, max_tokens: int
    ) -> ChatCompletion:
        response = await self._post(messages, schema, schema_name, max_tokens)
        if self._format == "auto" and _rejects_response_format(response):
            self._format = "json_object"
            log.info("llm.response_format", form="json_object", base_url=self._base_url)
            response = await self._post(messages, schema, schema_name, max_tokens)
        retryable = retryable_response(response)
        if retryable is not None:
            raise retryable
        status = response.status_code
        if status >= 400:
            raise LLMServiceError(
                self._redact(f"HTTP {status}: {error_text(response, self._api_key.get_secret_value())}"),
                details={"status": status, INPUT_REJECTED: status in (400, 413, 422)},
            )
        return self._parse(response)

    async def _post(
        self, messages: list[ChatMessage], schema: dict[str, Any], schema_name: str, max_tokens: int
    ) -> httpx.Response:
        payload = {
            "model": self._model,
            "messages": messages,
            "response_format": self._response_format(schema, schema_name),
            "max_tokens": max_tokens,
            "temperature": 0.0,  # extraction wants the likeliest reading, and retries want reproducibility
            "stream": False,
        }
        client = self._http()
        self.http_requests += 1
        try:
            return await client.post("chat/completions", json=payload)
        except httpx.TransportError as exc:
            raise transport_failure(exc, self._api_key.get_secret_value()) from None

    def _response_format(self, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        if self._format == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": True}}

    def _parse(self, response: httpx.Response) -> ChatCompletion:
        try:
            body = response.json()
            choice = body["choices"][0]
            content = choice["message"].get("content") or ""
            usage = body.get("usage") or {}
            model = str(body.get("model") or self._model)
            tokens = TokenUsage(
                model, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMServiceError(f"malformed chat completion ({type(exc).__name__})") from None
        if not isinstance(content, str):
            raise LLMServiceError("malformed chat completion (content is not text)")
        return ChatCompletion(content, model, tokens, choice.get("finish_reason"))

    def _redact(self, message: str) -> str:
        return redact(message, self._api_key.get_secret_value())


def _rejects_response_format(response: httpx.Response) -> bool:
    # llama-cpp-python validates `response_format.type` as "text" | "json_object" and answers HTTP 500 (its
    # error handler turns the validation error into one) quoting the field and our value; others say 400/422.
    text = response.text
    return response.status_code in (400, 422, 500) and "response_format" in text and "json_schema" in text
