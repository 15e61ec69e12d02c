"""The OpenAI-compatible chat client against a stub server speaking the real wire protocol: request shape,
retries with backoff, Retry-After, timeouts, the circuit breaker, response_format negotiation, key hygiene."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from membank.config import Settings
from membank.errors import LLMServiceError, MemBankError
from membank.providers._http import error_text, redact
from membank.providers.llms import OpenAIChatModel, build_chat_model
from membank.providers.llms.ports import ChatMessage
from tests.support.openai_stub import OpenAIStub, Reply, Status, reply_json, serve_app

API_KEY = "sk-llm-SECRET-0123456789abcdef"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "Answer in JSON."},
    {"role": "user", "content": "What is the capital of France?"},
]


def chat_model(url: str, **options: Any) -> OpenAIChatModel:
    values: dict[str, Any] = {
        "base_url": url,
        "model": "stub-model",
        "api_key": SecretStr(API_KEY),
        "timeout": 5.0,
        "max_retries": 3,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        **options,
    }
    return OpenAIChatModel(**values)


async def ask(model: OpenAIChatModel, max_tokens: int = 64) -> Any:
    return await model.complete_json(MESSAGES, schema=SCHEMA, schema_name="answer", max_tokens=max_tokens)


def assert_no_key(error: MemBankError) -> None:
    for rendered in (str(error), repr(error), error.message, repr(error.details), repr(error.__cause__)):
        assert API_KEY not in rendered


async def test_request_speaks_the_openai_protocol(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [reply_json({"answer": "Paris"})]
    model = chat_model(openai_stub_server[0])
    try:
        completion = await ask(model, max_tokens=77)
    finally:
        await model.aclose()
    assert completion.content == '{"answer": "Paris"}'
    assert completion.model == "stub-model"
    assert completion.finish_reason == "stop"
    assert completion.usage.model == "stub-model"
    assert completion.usage.prompt_tokens == 9  # the stub counts the words of the messages
    assert completion.usage.completion_tokens > 0
    (request,) = openai_stub.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["authorization"] == f"Bearer {API_KEY}"
    body = request["body"]
    assert body["model"] == "stub-model"
    assert body["messages"] == MESSAGES
    assert body["max_tokens"] == 77
    assert body["temperature"] == 0.0
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }


async def test_no_authorization_header_without_a_key(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    model = chat_model(openai_stub_server[0], api_key=None)
    try:
        await ask(model)
    finally:
        await model.aclose()
    assert openai_stub.requests[0]["authorization"] == ""


async def test_retries_429_500_and_a_timeout_then_succeeds(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.sleep_seconds = 1.0
    openai_stub.script = [429, 500, "sleep", reply_json({"answer": "Paris"})]
    model = chat_model(openai_stub_server[0], timeout=0.3)
    try:
        completion = await ask(model)
    finally:
        await model.aclose()
    assert completion.content == '{"answer": "Paris"}'
    assert model.http_requests == 4
    assert len(openai_stub.requests) == 4
    assert model.breaker.state == "closed"


async def test_retry_after_is_honoured_and_capped(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [Status(429, retry_after="0.4")]
    model = chat_model(openai_stub_server[0], backoff_max=1.0)
    try:
        started = time.monotonic()
        await ask(model)
        assert time.monotonic() - started >= 0.4
        # A server asking for an hour gets our cap instead.
        openai_stub.script = [Status(429, retry_after="3600")]
        started = time.monotonic()
        await ask(model)
        assert time.monotonic() - started < 3.0
    finally:
        await model.aclose()


async def test_gives_up_after_max_retries_without_leaking_the_key(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [500] * 10
    model = chat_model(openai_stub_server[0], max_retries=2)
    try:
        with pytest.raises(LLMServiceError) as caught:
            await ask(model)
    finally:
        await model.aclose()
    assert len(openai_stub.requests) == 3
    error = caught.value
    assert error.code == "LLM_SERVICE_ERROR" and error.status == 503
    assert error.message == "HTTP 500 after 3 attempts"
    assert error.details["attempts"] == 3
    assert_no_key(error)
    assert API_KEY not in repr(model)


async def test_timeouts_exhaust_the_retries(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.sleep_seconds = 1.0
    openai_stub.script = ["sleep"] * 3
    model = chat_model(openai_stub_server[0], timeout=0.2, max_retries=1)
    try:
        with pytest.raises(LLMServiceError, match="timed out") as caught:
            await ask(model)
    finally:
        await model.aclose()
    assert model.http_requests == 2
    assert_no_key(caught.value)


async def test_client_errors_are_not_retried_and_redacted(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [401]
    model = chat_model(openai_stub_server[0])
    try:
        with pytest.raises(LLMServiceError) as caught:
            await ask(model)
    finally:
        await model.aclose()
    assert len(openai_stub.requests) == 1
    assert "401" in caught.value.message
    assert "***" in caught.value.message  # the server echoed the header; we masked it
    assert_no_key(caught.value)


async def test_unreachable_service_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens here
    model = chat_model(f"http://127.0.0.1:{port}/v1", max_retries=1)
    try:
        with pytest.raises(LLMServiceError, match="Connect") as caught:
            await ask(model)
    finally:
        await model.aclose()
    assert model.http_requests == 2
    assert_no_key(caught.value)


async def test_breaker_opens_short_circuits_then_half_opens(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [500, 500]
    model = chat_model(openai_stub_server[0], max_retries=0, breaker_failures=2, breaker_reset_seconds=0.3)
    try:
        for _ in range(2):
            with pytest.raises(LLMServiceError, match="HTTP 500"):
                await ask(model)
        assert model.breaker.state == "open"
        # Open: refused at once, the server never sees the call.
        started = time.monotonic()
        with pytest.raises(LLMServiceError, match="circuit breaker open") as caught:
            await ask(model)
        assert time.monotonic() - started < 0.1
        assert caught.value.details == {"breaker": "open"}
        assert len(openai_stub.requests) == 2
        # Half-open after the reset time: one trial goes through; its success closes the breaker.
        time.sleep(0.35)
        assert model.breaker.state == "half-open"
        await ask(model)
        assert len(openai_stub.requests) == 3
        assert model.breaker.state == "closed"
    finally:
        await model.aclose()


async def test_a_failed_trial_reopens_the_breaker(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [500, 500]
    model = chat_model(openai_stub_server[0], max_retries=0, breaker_failures=1, breaker_reset_seconds=0.2)
    try:
        with pytest.raises(LLMServiceError, match="HTTP 500"):
            await ask(model)
        time.sleep(0.25)
        with pytest.raises(LLMServiceError, match="HTTP 500"):
            await ask(model)  # the trial
        assert model.breaker.state == "open"
        with pytest.raises(LLMServiceError, match="circuit breaker open"):
            await ask(model)
        assert len(openai_stub.requests) == 2
    finally:
        await model.aclose()


async def test_rejected_input_does_not_trip_the_breaker(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [400, 400]
    model = chat_model(openai_stub_server[0], breaker_failures=1)
    try:
        for _ in range(2):
            with pytest.raises(LLMServiceError, match="HTTP 400") as caught:
                await ask(model)
            assert caught.value.details["input_rejected"] is True
        assert model.breaker.state == "closed"
        assert len(openai_stub.requests) == 2  # not retried either
    finally:
        await model.aclose()


async def test_switches_to_llama_cpp_response_format_once(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.json_schema_supported = False  # like llama-cpp-python's server
    model = chat_model(openai_stub_server[0])
    try:
        assert model.response_format == "auto"
        await ask(model)
        await ask(model)
    finally:
        await model.aclose()
    formats = [r["body"]["response_format"] for r in openai_stub.requests]
    assert formats[0]["type"] == "json_schema"
    assert formats[1:] == [{"type": "json_object", "schema": SCHEMA}] * 2
    assert model.response_format == "json_object"


async def test_explicit_json_schema_form_is_not_renegotiated(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.json_schema_supported = False
    model = chat_model(openai_stub_server[0], response_format="json_schema", max_retries=1)
    try:
        with pytest.raises(LLMServiceError, match="HTTP 500 after 2 attempts"):
            await ask(model)
    finally:
        await model.aclose()
    assert [r["body"]["response_format"]["type"] for r in openai_stub.requests] == ["json_schema"] * 2


async def test_empty_and_truncated_answers_are_returned_as_they_are(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    # Parsing belongs to the caller: the client passes on what the model said, with why it stopped.
    openai_stub.script = [Reply('{"answer": "Par', finish_reason="length")]
    model = chat_model(openai_stub_server[0])
    try:
        completion = await ask(model)
    finally:
        await model.aclose()
    assert completion.content == '{"answer": "Par'
    assert completion.finish_reason == "length"


async def test_closed_client_raises(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    model = chat_model(openai_stub_server[0])
    await model.aclose()
    with pytest.raises(LLMServiceError, match="closed"):
        await ask(model)
    assert openai_stub.requests == []


def test_build_chat_model_follows_the_settings() -> None:
    assert build_chat_model(Settings()) is None
    settings = Settings(
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="gpt-test",
        llm_api_key=API_KEY,
        llm_timeout_seconds=7.0,
        llm_max_retries=1,
        llm_breaker_failures=3,
    )
    model = build_chat_model(settings)
    assert isinstance(model, OpenAIChatModel)
    assert model.model == "gpt-test"
    assert API_KEY not in repr(model)
    assert "127.0.0.1:9" in repr(model)


def _echoing_app(status: int, pad: int, body_key: str = API_KEY) -> Starlette:
    """A server whose 401 message echoes the key starting at character `pad` of its error message."""

    async def chat(request: Request) -> JSONResponse:
        message = "x" * pad + f"{body_key} and bearer token Bearer other-token-abcdefghijkl"
        return JSONResponse({"error": {"message": message}}, status_code=status)

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.mark.parametrize("pad", [190, 195, 199])
def test_error_text_masks_a_key_straddling_the_cut(pad: int) -> None:
    message = "x" * pad + API_KEY + " tail"
    response = httpx.Response(401, json={"error": {"message": message}})
    text = error_text(response, API_KEY)
    assert len(text) <= 200
    assert API_KEY[:6] not in text[pad:], text[pad:]
    plain = error_text(httpx.Response(401, text=message), API_KEY)
    assert API_KEY[:6] not in plain[pad:]


def test_redact_masks_bearer_and_sk_tokens_of_any_key() -> None:
    text = redact("sent Bearer abc.def-ghi and sk-proj-ABCDEFGH12345678 ok", "")
    assert "abc.def-ghi" not in text and "sk-proj" not in text and text.endswith(" ok")


async def test_a_401_echoing_the_key_near_the_cut_reaches_no_message() -> None:
    with serve_app(_echoing_app(401, pad=192)) as url:
        model = chat_model(f"{url}/v1")
        try:
            with pytest.raises(LLMServiceError) as caught:
                await ask(model)
        finally:
            await model.aclose()
    assert "401" in caught.value.message and "***" in caught.value.message
    assert API_KEY[:6] not in caught.value.message
    assert_no_key(caught.value)
