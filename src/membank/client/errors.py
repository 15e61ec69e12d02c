"""The errors the SDK raises: one root, `MemBankError`, and one subclass per error code of the API.

The classes repeat the server's hierarchy (src/membank/errors.py) by name and code, because the SDK stands
alone and imports nothing of the server; tests/sdk/test_python_sdk_errors.py checks that the two agree. An
answer whose code this SDK does not know (a newer server) becomes the class of its status family (e.g.
`NotFound` for a 404), or `MemBankError` itself. Failures before any answer are `MemBankConnectionError`
and `MemBankTimeoutError` (status None)."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "AccountLocked",
    "AccountNotFound",
    "BackendUnavailable",
    "BatchNotFound",
    "Conflict",
    "EmbeddingServiceError",
    "Forbidden",
    "IndexUnavailable",
    "InvalidCredentials",
    "InvalidSignature",
    "InvalidUserId",
    "IpDenied",
    "IpNotAllowed",
    "IpRuleNotFound",
    "JobNotFound",
    "JobQueueFull",
    "KeyNotFound",
    "LLMServiceError",
    "LeaseLost",
    "LoginSessionNotFound",
    "MemBankConnectionError",
    "MemBankError",
    "MemBankTimeoutError",
    "MemoryChanged",
    "MemoryNotCurrent",
    "MemoryNotFound",
    "MfaEnrolmentRequired",
    "MfaRequired",
    "NotFound",
    "NotReady",
    "Overloaded",
    "PasswordChangeRequired",
    "PayloadTooLarge",
    "RateLimitExceeded",
    "RateLimiterUnavailable",
    "RegistrationClosed",
    "RegistrationDomainRefused",
    "ReplayedRequest",
    "RoleNotFound",
    "ServiceAccountNotFound",
    "SessionNotFound",
    "SignatureExpired",
    "SignatureRequired",
    "StepUpRequired",
    "TeamNotFound",
    "TenantNotFound",
    "Unauthorized",
    "Unhealthy",
    "ValidationFailed",
]


class MemBankError(Exception):
    """Root of every error of the SDK: `code` and `status` of the answer (None when there was none), its
    `message` and `details`, the `request_id` the server gave it (X-Request-ID: quote it when reporting a
    problem) and `retry_after`, the seconds the server asked to wait (Retry-After), if any."""

    code = "INTERNAL_ERROR"
    status: int | None = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        prefix = f"{self.status} {self.code}" if self.status is not None else self.code
        return f"{prefix}: {self.message}{where}"


class MemBankConnectionError(MemBankError):
    """No answer: the server could not be reached, or the connection broke. `request_sent` is False when the
    request certainly never reached the server (so retrying it cannot do anything twice)."""

    code = "CONNECTION_ERROR"
    status = None

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class MemBankTimeoutError(MemBankConnectionError):
    """No answer within the client's timeout (or a job did not finish within `wait_for`'s)."""

    code = "TIMEOUT"


class ValidationFailed(MemBankError):
    code, status = "VALIDATION_ERROR", 400


class InvalidUserId(ValidationFailed):
    code = "INVALID_USER_ID"


class NotFound(MemBankError):
    code, status = "NOT_FOUND", 404


class MemoryNotFound(NotFound):
    code = "MEMORY_NOT_FOUND"


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"


class BatchNotFound(NotFound):
    code = "BATCH_NOT_FOUND"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


class LoginSessionNotFound(NotFound):
    code = "LOGIN_SESSION_NOT_FOUND"


class KeyNotFound(NotFound):
    code = "KEY_NOT_FOUND"


class ServiceAccountNotFound(NotFound):
    code = "SERVICE_ACCOUNT_NOT_FOUND"


class AccountNotFound(NotFound):
    code = "ACCOUNT_NOT_FOUND"


class RoleNotFound(NotFound):
    code = "ROLE_NOT_FOUND"


class TeamNotFound(NotFound):
    code = "TEAM_NOT_FOUND"


class IpRuleNotFound(NotFound):
    code = "IP_RULE_NOT_FOUND"


class TenantNotFound(NotFound):
    code = "TENANT_NOT_FOUND"


class Unauthorized(MemBankError):
    code, status = "UNAUTHORIZED", 401


class SignatureRequired(Unauthorized):
    code = "SIGNATURE_REQUIRED"


class InvalidSignature(Unauthorized):
    code = "INVALID_SIGNATURE"


class SignatureExpired(Unauthorized):
    code = "SIGNATURE_EXPIRED"


class ReplayedRequest(Unauthorized):
    code = "REPLAYED_REQUEST"


class InvalidCredentials(Unauthorized):
    code = "INVALID_CREDENTIALS"


class MfaRequired(Unauthorized):
    code = "MFA_REQUIRED"


class Forbidden(MemBankError):
    code, status = "INSUFFICIENT_PERMISSIONS", 403


class IpNotAllowed(Forbidden):
    code = "IP_NOT_ALLOWED"


class IpDenied(Forbidden):
    code = "IP_DENIED"


class StepUpRequired(Forbidden):
    code = "STEP_UP_REQUIRED"


class RegistrationClosed(Forbidden):
    code = "REGISTRATION_CLOSED"


class RegistrationDomainRefused(Forbidden):
    code = "REGISTRATION_DOMAIN_REFUSED"


class MfaEnrolmentRequired(Forbidden):
    code = "MFA_ENROLMENT_REQUIRED"


class PasswordChangeRequired(Forbidden):
    code = "PASSWORD_CHANGE_REQUIRED"


class Conflict(MemBankError):
    code, status = "CONFLICT", 409


class LeaseLost(Conflict):
    code = "LEASE_LOST"


class MemoryChanged(Conflict):
    code = "MEMORY_CHANGED"


class MemoryNotCurrent(Conflict):
    code = "MEMORY_NOT_CURRENT"


class PayloadTooLarge(MemBankError):
    code, status = "PAYLOAD_TOO_LARGE", 413


class JobQueueFull(MemBankError):
    code, status = "JOB_QUEUE_FULL", 429


class AccountLocked(MemBankError):
    code, status = "ACCOUNT_LOCKED", 429


class RateLimitExceeded(MemBankError):
    code, status = "RATE_LIMIT_EXCEEDED", 429


class EmbeddingServiceError(MemBankError):
    code, status = "EMBEDDING_SERVICE_ERROR", 503


class LLMServiceError(MemBankError):
    code, status = "LLM_SERVICE_ERROR", 503


class Overloaded(MemBankError):
    code, status = "OVERLOADED", 503


class BackendUnavailable(MemBankError):
    code, status = "BACKEND_UNAVAILABLE", 503


class IndexUnavailable(BackendUnavailable):
    code = "INDEX_UNAVAILABLE"


class RateLimiterUnavailable(BackendUnavailable):
    code = "RATE_LIMITER_UNAVAILABLE"


class Unhealthy(MemBankError):
    code, status = "UNHEALTHY", 503


class NotReady(MemBankError):
    code, status = "NOT_READY", 503


def _answer_classes(root: type[MemBankError]) -> list[type[MemBankError]]:
    found = []
    for sub in root.__subclasses__():
        if not issubclass(sub, MemBankConnectionError):
            found += [sub, *_answer_classes(sub)]
    return found


ERRORS_BY_CODE: dict[str, type[MemBankError]] = {cls.code: cls for cls in _answer_classes(MemBankError)}
# A code this SDK does not know yet: the base class of its status family.
_FAMILIES: dict[int, type[MemBankError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
}


def error_from_answer(status: int, content: bytes, headers: Any) -> MemBankError:
    """The error of a non-2xx answer: its envelope's code, message and details (or, for a body that is not
    an envelope, e.g. a proxy's page, an `HTTP_<status>` code), with the request id and Retry-After."""
    request_id = headers.get("x-request-id")
    retry_after = _seconds(headers.get("retry-after"))
    try:
        error = orjson.loads(content)["error"]
        code, message, details = str(error["code"]), str(error["message"]), dict(error.get("details") or {})
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        code, message, details = f"HTTP_{status}", _snippet(content) or f"HTTP {status}", {}
    cls = ERRORS_BY_CODE.get(code) or _FAMILIES.get(status, MemBankError)
    return cls(
        message, code=code, status=status, details=details, request_id=request_id, retry_after=retry_after
    )


def _seconds(value: str | None) -> float | None:
    """Retry-After in seconds; None when absent or an HTTP date (the API sends seconds)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _snippet(content: bytes) -> str:
    return " ".join(content[:200].decode("utf-8", "replace").split())
