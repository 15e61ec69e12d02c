"""One error root for the whole service.

Hierarchy (every class carries a stable ``code`` and an HTTP ``status``)::

    MemBankError                      INTERNAL_ERROR            500
    ├── ValidationFailed              VALIDATION_ERROR          400
    │   └── InvalidUserId             INVALID_USER_ID           400
    ├── NotFound                      NOT_FOUND                 404
    │   ├── MemoryNotFound            MEMORY_NOT_FOUND          404
    │   ├── JobNotFound               JOB_NOT_FOUND             404
    │   ├── BatchNotFound             BATCH_NOT_FOUND           404
    │   ├── SessionNotFound           SESSION_NOT_FOUND         404
    │   ├── LoginSessionNotFound      LOGIN_SESSION_NOT_FOUND   404
    │   ├── KeyNotFound               KEY_NOT_FOUND             404
    │   ├── ServiceAccountNotFound    SERVICE_ACCOUNT_NOT_FOUND 404
    │   ├── AccountNotFound           ACCOUNT_NOT_FOUND         404
    │   ├── RoleNotFound              ROLE_NOT_FOUND            404
    │   ├── TeamNotFound              TEAM_NOT_FOUND            404
    │   ├── IpRuleNotFound            IP_RULE_NOT_FOUND         404
    │   └── TenantNotFound            TENANT_NOT_FOUND          404
    ├── Unauthorized                  UNAUTHORIZED              401
    │   ├── SignatureRequired         SIGNATURE_REQUIRED        401
    │   ├── InvalidSignature          INVALID_SIGNATURE         401
    │   ├── SignatureExpired          SIGNATURE_EXPIRED         401
    │   ├── ReplayedRequest           REPLAYED_REQUEST          401
    │   ├── InvalidCredentials        INVALID_CREDENTIALS       401
    │   └── MfaRequired               MFA_REQUIRED              401
    ├── Forbidden                     INSUFFICIENT_PERMISSIONS  403
    │   ├── IpNotAllowed              IP_NOT_ALLOWED            403
    │   ├── IpDenied                  IP_DENIED                 403
    │   ├── StepUpRequired            STEP_UP_REQUIRED          403
    │   ├── MfaEnrolmentRequired      MFA_ENROLMENT_REQUIRED    403
    │   └── PasswordChangeRequired    PASSWORD_CHANGE_REQUIRED  403
    ├── Conflict                      CONFLICT                  409
    │   ├── LeaseLost                 LEASE_LOST                409
    │   ├── MemoryChanged             MEMORY_CHANGED            409
    │   └── MemoryNotCurrent          MEMORY_NOT_CURRENT        409
    ├── PayloadTooLarge               PAYLOAD_TOO_LARGE         413
    ├── JobQueueFull                  JOB_QUEUE_FULL            429  (Retry-After)
    ├── AccountLocked                 ACCOUNT_LOCKED            429  (Retry-After)
    ├── RateLimitExceeded             RATE_LIMIT_EXCEEDED       429
    ├── EmbeddingServiceError         EMBEDDING_SERVICE_ERROR   503
    ├── LLMServiceError               LLM_SERVICE_ERROR         503
    ├── Overloaded                    OVERLOADED                503  (Retry-After)
    ├── BackendUnavailable            BACKEND_UNAVAILABLE       503
    │   ├── IndexUnavailable          INDEX_UNAVAILABLE         503
    │   └── RateLimiterUnavailable    RATE_LIMITER_UNAVAILABLE  503
    ├── Unhealthy                     UNHEALTHY                 503
    └── NotReady                      NOT_READY                 503
"""

from __future__ import annotations

from typing import Any


class MemBankError(Exception):
    """Root of every error the service reports to a client."""

    code = "INTERNAL_ERROR"
    status = 500
    # Seconds after which the same request may succeed (sent as Retry-After); None: retrying will not help.
    retry_after: int | None = None
    sends_retry_after = False  # whether every error of this class carries `retry_after` (for the OpenAPI doc)

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(MemBankError):
    code = "VALIDATION_ERROR"
    status = 400

    @classmethod
    def field(cls, field: str, reason: str) -> ValidationFailed:
        """A validation error about one named field."""
        return cls(f"{field}: {reason}", details={"errors": [{"field": field, "reason": reason}]})


class InvalidUserId(ValidationFailed):
    code = "INVALID_USER_ID"


class NotFound(MemBankError):
    code = "NOT_FOUND"
    status = 404


class MemoryNotFound(NotFound):
    code = "MEMORY_NOT_FOUND"


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"


class BatchNotFound(NotFound):
    code = "BATCH_NOT_FOUND"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


class LoginSessionNotFound(NotFound):
    """No live login session of the caller (or, for an admin, of the tenant) has that id."""

    code = "LOGIN_SESSION_NOT_FOUND"


class KeyNotFound(NotFound):
    code = "KEY_NOT_FOUND"


class ServiceAccountNotFound(NotFound):
    code = "SERVICE_ACCOUNT_NOT_FOUND"


class AccountNotFound(NotFound):
    """No human account of the caller's tenant has that id."""

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
    code = "UNAUTHORIZED"
    status = 401


class SignatureRequired(Unauthorized):
    """The key requires signed requests and this one carries no signature."""

    code = "SIGNATURE_REQUIRED"


class InvalidSignature(Unauthorized):
    """The signature headers are malformed or the signature does not match the request (a changed body)."""

    code = "INVALID_SIGNATURE"


class SignatureExpired(Unauthorized):
    """The signed timestamp lies outside the replay window (MEMBANK_SIGNATURE_WINDOW_SECONDS)."""

    code = "SIGNATURE_EXPIRED"


class ReplayedRequest(Unauthorized):
    """The nonce of this signed request was already used within the replay window."""

    code = "REPLAYED_REQUEST"


class InvalidCredentials(Unauthorized):
    """A login (or password change) failed. One message for every cause (unknown tenant or email, wrong
    password or code, disabled account), so the answer never says which accounts exist."""

    code = "INVALID_CREDENTIALS"


class MfaRequired(Unauthorized):
    """The password was right and the account has MFA: send `totp_code` or `recovery_code` as well."""

    code = "MFA_REQUIRED"


class Forbidden(MemBankError):
    code = "INSUFFICIENT_PERMISSIONS"
    status = 403


class IpNotAllowed(Forbidden):
    """The key is limited to an IP allow list that does not include the client's address."""

    code = "IP_NOT_ALLOWED"


class IpDenied(Forbidden):
    """The client's address is excluded by the IP rules of the platform or of the tenant."""

    code = "IP_DENIED"


class StepUpRequired(Forbidden):
    """A sensitive act of a login session whose last MFA check is too old (or that never had one): confirm
    with a current code (POST /api/v1/auth/step-up) and retry with the new access token."""

    code = "STEP_UP_REQUIRED"


class RegistrationClosed(Forbidden):
    """The tenant does not take self-registrations (also the answer for a tenant that does not exist)."""

    code = "REGISTRATION_CLOSED"


class RegistrationDomainRefused(Forbidden):
    """The tenant takes self-registrations only from the email domains of its policy."""

    code = "REGISTRATION_DOMAIN_REFUSED"


class MfaEnrolmentRequired(Forbidden):
    """The account's roles require MFA (MEMBANK_MFA_REQUIRED_ROLES) and this session has none: only MFA
    enrolment, password change, the own sessions and logout answer until it is set up."""

    code = "MFA_ENROLMENT_REQUIRED"


class PasswordChangeRequired(Forbidden):
    """The account's password was set by an admin (or has expired) and must be changed: only the password
    change, the own sessions, logout and `GET /api/v1/auth/me` answer until it is."""

    code = "PASSWORD_CHANGE_REQUIRED"


class Conflict(MemBankError):
    code = "CONFLICT"
    status = 409


class LeaseLost(Conflict):
    """A worker tried to write for a job whose lease it no longer holds."""

    code = "LEASE_LOST"


class MemoryChanged(Conflict):
    """A memory was superseded or deleted by someone else between reading and writing it."""

    code = "MEMORY_CHANGED"


class MemoryNotCurrent(Conflict):
    """A change was asked of a superseded or deleted version; only the current version can change."""

    code = "MEMORY_NOT_CURRENT"


class PayloadTooLarge(MemBankError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class JobQueueFull(MemBankError):
    """The tenant already has as many unfinished jobs as it may (MEMBANK_JOB_QUEUE_MAX_PER_TENANT); nothing
    was queued. Other tenants are unaffected: it is the tenant's own limit, hence 429, not 503."""

    code = "JOB_QUEUE_FULL"
    status = 429
    sends_retry_after = True

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class AccountLocked(MemBankError):
    """Too many failed logins for this tenant and email (whether or not an account has it): refused until
    the lockout ends (Retry-After) or an admin unlocks it."""

    code = "ACCOUNT_LOCKED"
    status = 429
    sends_retry_after = True

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Overloaded(MemBankError):
    """The service has as much work in flight as it may take (e.g. MEMBANK_EMBEDDER_MAX_PENDING texts
    waiting for the embedder); the request was refused before it changed anything."""

    code = "OVERLOADED"
    status = 503
    sends_retry_after = True

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class RateLimitExceeded(MemBankError):
    """A key or its tenant is over a request limit; `details` name the limit and when to retry."""

    code = "RATE_LIMIT_EXCEEDED"
    status = 429

    def __init__(self, message: str, *, retry_after_seconds: float, details: dict[str, Any]) -> None:
        super().__init__(message, details={"retry_after_seconds": retry_after_seconds, **details})
        self.retry_after_seconds = retry_after_seconds


class EmbeddingServiceError(MemBankError):
    code = "EMBEDDING_SERVICE_ERROR"
    status = 503


class LLMServiceError(MemBankError):
    """The chat LLM failed: unreachable, throttled, erroring, breaker open, or its output was unusable."""

    code = "LLM_SERVICE_ERROR"
    status = 503


class BackendUnavailable(MemBankError):
    code = "BACKEND_UNAVAILABLE"
    status = 503


class IndexUnavailable(BackendUnavailable):
    """A derived index cannot serve: missing, unwritable, unreadable, rebuilding, or its engine failed
    (a native panic included). The system of record is unaffected: writes are still acknowledged and reach
    the index through the outbox once it recovers.

    ``details["cause"]`` says which: ``missing`` (its files are gone), ``unwritable`` (immutable, read-only
    or a full disk), ``unreadable`` (it cannot be opened or read: corrupt), ``locked`` (another process owns
    it), ``unreachable`` (its server cannot be reached, dropped the connection, answers 5xx, or its circuit
    breaker is open), ``incompatible`` (a Qdrant collection of another vector size), ``closed``, ``rebuilding``
    or ``error`` (anything else the engine reported)."""

    code = "INDEX_UNAVAILABLE"
    status = 503

    def __init__(self, message: str, *, cause: str = "error", details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"cause": cause, **(details or {})})
        self.cause = cause


class RateLimiterUnavailable(BackendUnavailable):
    """Redis, which keeps the shared request counts, is down and MEMBANK_RATE_LIMIT_FAIL_MODE=closed."""

    code = "RATE_LIMITER_UNAVAILABLE"


class Unhealthy(MemBankError):
    """/health: a backend is unavailable (the details are the health report)."""

    code = "UNHEALTHY"
    status = 503


class NotReady(MemBankError):
    """/health/ready: a backend is unavailable, do not send traffic (the details are the health report)."""

    code = "NOT_READY"
    status = 503
