"""An OpenAI-compatible API stub on a real socket: `/v1/embeddings` and `/v1/chat/completions`.

Every request takes the next step of `script` (then `"ok"` when the script is empty):

- `"ok"`: a normal answer (deterministic vectors; the `chat_reply` for chat),
- a `Reply`: that chat answer (valid, malformed, truncated or wrong-schema JSON, any finish reason),
- an int or a `Status`: that HTTP error (429 carries `Retry-After`),
- `"sleep"`: wait `sleep_seconds` before answering normally, so that a client's timeout fires.

An embeddings request with an input of more than `max_input_words` words (when set) is refused with
OpenAI's HTTP 400 "maximum context length", whatever the script says.

Requests are recorded (path, Authorization and traceparent headers, JSON body). With `json_schema_supported = False` the chat
endpoint rejects OpenAI's `response_format: {"type": "json_schema"}` like llama-cpp-python's server does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["OpenAIStub", "Reply", "Status", "Step", "reply_json", "serve_app", "serve_stub"]


@dataclass(frozen=True)
class Reply:
    """A chat completion whose message content is `content` (any text: it need not be JSON)."""

    content: str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    """An HTTP error answer."""

    code: int
    retry_after: str | None = None


Step = str | int | Reply | Status


def reply_json(value: Any) -> Reply:
    """A chat answer whose content is `value` as JSON."""
    return Reply(json.dumps(value))


@dataclass
class OpenAIStub:
    """Scripted, deterministic OpenAI-compatible server state (shared with the server thread)."""

    dim: int = 384
    script: list[Step] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    chat_reply: Reply = field(default_factory=lambda: reply_json({"facts": []}))
    sleep_seconds: float = 1.0
    json_schema_supported: bool = True
    max_input_words: int | None = None  # an embedding input longer than this is refused, as OpenAI does

    def reset(self) -> None:
        """Back to the defaults, with no script and no recorded request."""
        fresh = OpenAIStub()
        self.dim, self.script, self.requests = fresh.dim, fresh.script, fresh.requests
        self.chat_reply, self.sleep_seconds = fresh.chat_reply, fresh.sleep_seconds
        self.json_schema_supported = fresh.json_schema_supported
        self.max_input_words = fresh.max_input_words

    def chat_requests(self) -> list[dict[str, Any]]:
        """The recorded requests to `/v1/chat/completions`."""
        return [r for r in self.requests if r["path"] == "/v1/chat/completions"]

    @staticmethod
    def raw_vector(text: str, dim: int) -> np.ndarray:
        """The (deliberately not unit-length) vector the stub returns for `text`."""
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).normal(size=dim) * 3.0

    def app(self) -> Starlette:
        """The ASGI app serving both endpoints."""
        return Starlette(
            routes=[
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    async def _record(self, request: Request) -> tuple[dict[str, Any], str]:
        body = await request.json()
        auth = request.headers.get("authorization", "")
        self.requests.append(
            {
                "path": request.url.path,
                "authorization": auth,
                "body": body,
                "traceparent": request.headers.get("traceparent"),
            }
        )
        return body, auth

    async def _step(self, auth: str) -> tuple[Step, JSONResponse | None]:
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, int):
            step = Status(step, "0" if step == 429 else None)
        if isinstance(step, Status):
            # Careless servers echo credentials; our error messages must not.
            error = {"message": f"failure {step.code} for credentials '{auth}'", "type": "server_error"}
            headers = {"Retry-After": step.retry_after} if step.retry_after is not None else None
            return step, JSONResponse({"error": error}, status_code=step.code, headers=headers)
        if step == "sleep":
            await asyncio.sleep(self.sleep_seconds)
        return step, None

    async def _embeddings(self, request: Request) -> JSONResponse:
        body, auth = await self._record(request)
        if "" in body["input"]:
            error = {"message": "'$.input' is invalid: empty string", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=400)
        longest = max((len(text.split()) for text in body["input"]), default=0)
        if self.max_input_words is not None and longest > self.max_input_words:
            message = (
                f"This model's maximum context length is {self.max_input_words} tokens, however you "
                f"requested {longest} tokens. Please reduce your prompt."
            )
            return JSONResponse(
                {"error": {"message": message, "type": "invalid_request_error"}}, status_code=400
            )
        _, failure = await self._step(auth)
        if failure is not None:
            return failure
        data = [
            {"object": "embedding", "index": i, "embedding": self.raw_vector(t, self.dim).tolist()}
            for i, t in enumerate(body["input"])
        ]
        data.reverse()  # the protocol orders by "index", not by position
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": {}})

    async def _chat(self, request: Request) -> JSONResponse:
        body, auth = await self._record(request)
        invalid = _invalid_chat_request(body, json_schema_supported=self.json_schema_supported)
        if invalid is not None:
            return invalid
        step, failure = await self._step(auth)
        if failure is not None:
            return failure
        reply = step if isinstance(step, Reply) else self.chat_reply
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = max(1, len(reply.content) // 4)
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )


def _invalid_chat_request(body: Any, *, json_schema_supported: bool) -> JSONResponse | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages
    ):
        error = {"message": "'messages' must be a list of {role, content}", "type": "invalid_request_error"}
        return JSONResponse({"error": error}, status_code=400)
    kind = (body.get("response_format") or {}).get("type", "text")
    if not json_schema_supported and kind not in ("text", "json_object"):
        # Word for word what llama-cpp-python 0.3.36's server answers: its error handler turns the request
        # validation error for `Literal["text", "json_object"]` into an HTTP 500.
        detail = (
            "{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be "
            f"'text' or 'json_object'\", 'input': '{kind}', 'ctx': {{'expected': \"'text' or 'json_object'\"}}}}"
        )
        error = {"message": f"1 validation error:\n  {detail}\n", "type": "internal_server_error"}
        return JSONResponse({"error": error}, status_code=500)
    return None


@contextmanager
def serve_app(app: Starlette) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 in a thread; yields `http://127.0.0.1:<port>`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the stub server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_stub(stub: OpenAIStub | None = None) -> Iterator[tuple[str, OpenAIStub]]:
    """A running stub; yields its base URL (ending in `/v1`) and its state."""
    stub = stub or OpenAIStub()
    with serve_app(stub.app()) as url:
        yield f"{url}/v1", stub
