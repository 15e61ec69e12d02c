"""The response envelope every endpoint uses, success and error alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response


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
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details or {}},
        "timestamp": _timestamp(),
    }


def fail(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error envelope."""
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)
