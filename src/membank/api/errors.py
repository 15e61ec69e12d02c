"""One place turns every error into the envelope: our errors, validation errors, HTTP errors, crashes."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from membank.api.envelope import fail
from membank.errors import InvalidUserId, MemBankError, ValidationFailed

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def _field(loc: tuple[Any, ...]) -> str:
    # Only the first element names where the value came from; a body field may itself be called "query".
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def validation_error(exc: RequestValidationError) -> MemBankError:
    """A pydantic error as our error: every failing field named, with the reason and the bound it broke."""
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        ctx = err.get("ctx", {})
        reason = "invalid JSON: " + str(ctx.get("error", "")) if kind == "json_invalid" else err["msg"]
        entry: dict[str, Any] = {"field": _field(loc), "reason": reason, "type": kind}
        limit = _limit(ctx)
        if limit:
            entry["limit"] = limit
        errors.append(entry)
    return _failed(errors)


def bound_error(field: str, reason: str, limit: dict[str, Any]) -> MemBankError:
    """A value beyond a bound (`limit` names it, e.g. {"max_json_depth": 32}) as our validation error."""
    entry: dict[str, Any] = {"field": field, "reason": reason, "type": "json_bounds"}
    if limit:
        entry["limit"] = limit
    return _failed([entry])


def _limit(ctx: dict[str, Any]) -> dict[str, Any]:
    # pydantic's context names the bound (max_length, le, pattern, our max_* settings and time range).
    return {
        key: value
        for key, value in ctx.items()
        if key not in ("error", "reason") and isinstance(value, str | int | float | bool)
    }


def _failed(errors: list[dict[str, Any]]) -> MemBankError:
    first = errors[0] if errors else {"field": "body", "reason": "invalid request"}
    message = f"{first['field']}: {first['reason']}"
    if any(e["field"].split(".")[-1].split("[")[0] == "user_id" for e in errors):
        return InvalidUserId(message, details={"errors": errors})
    return ValidationFailed(message, details={"errors": errors})


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route serves at the request's path: FastAPI makes one route per method, so the
    405 of the first route that matched the path alone names too few."""
    return [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.router.routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MemBankError)
    async def _ours(request: Request, exc: MemBankError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return fail(exc.status, exc.code, exc.message, exc.details, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        err = validation_error(exc)
        return fail(err.status, err.code, err.message, err.details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI could not read the body (not UTF-8, not the declared form)
            err = ValidationFailed.field("body", str(exc.detail))
            return fail(err.status, err.code, err.message, err.details)
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app, request.scope))}
        return fail(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return fail(500, "INTERNAL_ERROR", "internal error; see the server log with this request id")
