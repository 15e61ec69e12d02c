"""The documented error answers of an operation, built from the error classes it can raise.

Each HTTP status an operation can answer gets the error envelope with its `code` narrowed to the codes of
the listed classes, so the OpenAPI document says exactly which codes a client can meet per status. Errors
are always JSON, whatever the operation's success media type (so the schemas are referenced here and added
to the document by `membank.api.openapi`, not passed to FastAPI as models).
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, create_model

from membank.api.envelope import ErrorEnvelope, ErrorInfo
from membank.errors import (
    AccountLocked,
    BackendUnavailable,
    Forbidden,
    InvalidSignature,
    IpDenied,
    IpNotAllowed,
    JobQueueFull,
    MemBankError,
    MfaEnrolmentRequired,
    Overloaded,
    PasswordChangeRequired,
    PayloadTooLarge,
    RateLimiterUnavailable,
    RateLimitExceeded,
    ReplayedRequest,
    SignatureExpired,
    SignatureRequired,
    Unauthorized,
)

# What every authenticated operation can answer: no or a bad key, a key without the scope, an address the IP
# rules exclude, a key or tenant (or an unauthenticated client address) over its request limit, a busy database, the rate limiter's Redis down (fail closed).
AUTHENTICATED: tuple[type[MemBankError], ...] = (
    Unauthorized,
    SignatureRequired,
    InvalidSignature,
    SignatureExpired,
    ReplayedRequest,
    Forbidden,
    IpNotAllowed,
    IpDenied,
    MfaEnrolmentRequired,
    PasswordChangeRequired,
    RateLimitExceeded,
    BackendUnavailable,
    RateLimiterUnavailable,
)
# What every operation with a request body can answer on top: the body is over the size limit.
WITH_BODY: tuple[type[MemBankError], ...] = (PayloadTooLarge,)
# What every operation that queues jobs can answer on top: the tenant's job queue is full.
QUEUEING: tuple[type[MemBankError], ...] = (JobQueueFull,)


RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before sending the request again (with "
    + ", ".join(sorted(c.code for c in (AccountLocked, JobQueueFull, Overloaded)))
    + ")",
    "schema": {"type": "integer", "minimum": 1},
}

# Every error schema a route refers to, by name; `membank.api.openapi` puts them into the document.
ERROR_MODELS: dict[str, type[BaseModel]] = {}


@functools.cache
def error_model(codes: tuple[str, ...]) -> type[BaseModel]:
    """The error envelope whose `error.code` is one of `codes` (one named schema per set of codes)."""
    name = "_".join(codes)
    code_type: Any = Literal.__getitem__(codes)
    info = create_model(f"ErrorInfo_{name}", __base__=ErrorInfo, code=(code_type, ...))
    model = create_model(f"Error_{name}", __base__=ErrorEnvelope, error=(info, ...))
    ERROR_MODELS[model.__name__] = model
    return model


def error_responses(*errors: type[MemBankError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of a route for the errors it can answer, grouped by status."""
    by_status: dict[int, list[str]] = {}
    retry_later: set[int] = set()
    for error in errors:
        codes = by_status.setdefault(error.status, [])
        if error.code not in codes:
            codes.append(error.code)
        if error.sends_retry_after:
            retry_later.add(error.status)
    answers: dict[int | str, dict[str, Any]] = {}
    for status, codes in sorted(by_status.items()):
        answer: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase}: {', '.join(codes)}",
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{error_model(tuple(codes)).__name__}"}
                }
            },
        }
        if status in retry_later:
            answer["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
        answers[status] = answer
    return answers
