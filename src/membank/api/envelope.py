"""The response envelope every endpoint uses, success and error alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from membank.observability.tracing import current_trace_id


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def ok(
    data: Any, *, status: int = 200, message: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A success envelope."""
    return JSONResponse(
        {"success": True, "data": data, "message": message, "timestamp": _timestamp()},
        status_code=status,
        headers=headers,
    )


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error envelope's body; `error.trace_id` names the request's trace (in the server's logs and, when
    tracing is on, its spans)."""
    error: dict[str, Any] = {"code": code, "message": message, "details": details or {}}
    trace_id = current_trace_id()
    if trace_id is not None:
        error["trace_id"] = trace_id
    return {"success": False, "error": error, "timestamp": _timestamp()}


def fail(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error envelope."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


# The documented shapes of the two envelopes. Endpoints answer with `ok`/`fail` above (orjson, no response
# validation by FastAPI), so these models only describe what those functions send: keep them in step.

DataT = TypeVar("DataT")


class Envelope(BaseModel, Generic[DataT]):
    """A success: `data` is the operation's result."""

    success: Literal[True]
    data: DataT
    message: str | None
    timestamp: datetime = Field(description="When the answer was made, UTC, millisecond precision")


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable error code")
    message: str = Field(description="What went wrong, for a person")
    details: dict[str, Any] = Field(
        description="More about the error; a validation error lists each failing field under `errors`"
    )
    trace_id: str | None = Field(
        default=None,
        description="The request's W3C trace id (32 hex digits): find its log lines and spans with it",
    )


class ErrorEnvelope(BaseModel):
    """A failure: nothing was changed."""

    success: Literal[False]
    error: ErrorInfo
    timestamp: datetime
