/**
 * The errors a call can raise: the server's error codes (one class per code, named as in
 * src/membank/errors.py, with the same parents) and two of the client's own, for a lost connection and a
 * timeout. Every one is a MemBankError, so one `catch` sees them all.
 */

export interface MemBankErrorInit {
  code: string;
  status: number;
  message: string;
  details?: Record<string, unknown>;
  requestId?: string | null;
  /** Seconds after which the same request may succeed, from Retry-After; null when it was not sent. */
  retryAfter?: number | null;
  cause?: unknown;
}

export class MemBankError extends Error {
  /** The code this class stands for (an instance's `code` is what the server sent). */
  static readonly code: string = "INTERNAL_ERROR";
  readonly code: string;
  /** HTTP status of the answer; 0 when none came (a connection error or timeout). */
  readonly status: number;
  readonly details: Record<string, unknown>;
  /** The X-Request-ID of the answer: quote it when asking about a failure. */
  readonly requestId: string | null;
  readonly retryAfter: number | null;

  constructor(init: MemBankErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.retryAfter = init.retryAfter ?? null;
  }
}

/** The server could not be reached, or the connection broke before an answer came. */
export class MemBankConnectionError extends MemBankError {
  static override readonly code: string = "CONNECTION_ERROR";
}
/** No answer within the configured timeout (the server may still finish the request). */
export class MemBankTimeoutError extends MemBankConnectionError {
  static override readonly code: string = "TIMEOUT";
}

export class ValidationFailed extends MemBankError { static override readonly code: string = "VALIDATION_ERROR"; }
export class InvalidUserId extends ValidationFailed { static override readonly code: string = "INVALID_USER_ID"; }

export class NotFound extends MemBankError { static override readonly code: string = "NOT_FOUND"; }
export class MemoryNotFound extends NotFound { static override readonly code: string = "MEMORY_NOT_FOUND"; }
export class JobNotFound extends NotFound { static override readonly code: string = "JOB_NOT_FOUND"; }
export class BatchNotFound extends NotFound { static override readonly code: string = "BATCH_NOT_FOUND"; }
export class SessionNotFound extends NotFound { static override readonly code: string = "SESSION_NOT_FOUND"; }
export class LoginSessionNotFound extends NotFound { static override readonly code: string = "LOGIN_SESSION_NOT_FOUND"; }
export class KeyNotFound extends NotFound { static override readonly code: string = "KEY_NOT_FOUND"; }
export class ServiceAccountNotFound extends NotFound { static override readonly code: string = "SERVICE_ACCOUNT_NOT_FOUND"; }
export class AccountNotFound extends NotFound { static override readonly code: string = "ACCOUNT_NOT_FOUND"; }
export class RoleNotFound extends NotFound { static override readonly code: string = "ROLE_NOT_FOUND"; }
export class TeamNotFound extends NotFound { static override readonly code: string = "TEAM_NOT_FOUND"; }
export class IpRuleNotFound extends NotFound { static override readonly code: string = "IP_RULE_NOT_FOUND"; }
export class TenantNotFound extends NotFound { static override readonly code: string = "TENANT_NOT_FOUND"; }

export class Unauthorized extends MemBankError { static override readonly code: string = "UNAUTHORIZED"; }
export class SignatureRequired extends Unauthorized { static override readonly code: string = "SIGNATURE_REQUIRED"; }
export class InvalidSignature extends Unauthorized { static override readonly code: string = "INVALID_SIGNATURE"; }
export class SignatureExpired extends Unauthorized { static override readonly code: string = "SIGNATURE_EXPIRED"; }
export class ReplayedRequest extends Unauthorized { static override readonly code: string = "REPLAYED_REQUEST"; }
export class InvalidCredentials extends Unauthorized { static override readonly code: string = "INVALID_CREDENTIALS"; }
export class MfaRequired extends Unauthorized { static override readonly code: string = "MFA_REQUIRED"; }

export class Forbidden extends MemBankError { static override readonly code: string = "INSUFFICIENT_PERMISSIONS"; }
export class IpNotAllowed extends Forbidden { static override readonly code: string = "IP_NOT_ALLOWED"; }
export class IpDenied extends Forbidden { static override readonly code: string = "IP_DENIED"; }
export class StepUpRequired extends Forbidden { static override readonly code: string = "STEP_UP_REQUIRED"; }
export class RegistrationClosed extends Forbidden { static override readonly code: string = "REGISTRATION_CLOSED"; }
export class RegistrationDomainRefused extends Forbidden { static override readonly code: string = "REGISTRATION_DOMAIN_REFUSED"; }
export class MfaEnrolmentRequired extends Forbidden { static override readonly code: string = "MFA_ENROLMENT_REQUIRED"; }
export class PasswordChangeRequired extends Forbidden { static override readonly code: string = "PASSWORD_CHANGE_REQUIRED"; }

export class Conflict extends MemBankError { static override readonly code: string = "CONFLICT"; }
export class LeaseLost extends Conflict { static override readonly code: string = "LEASE_LOST"; }
export class MemoryChanged extends Conflict { static override readonly code: string = "MEMORY_CHANGED"; }
export class MemoryNotCurrent extends Conflict { static override readonly code: string = "MEMORY_NOT_CURRENT"; }

export class PayloadTooLarge extends MemBankError { static override readonly code: string = "PAYLOAD_TOO_LARGE"; }
export class JobQueueFull extends MemBankError { static override readonly code: string = "JOB_QUEUE_FULL"; }
export class AccountLocked extends MemBankError { static override readonly code: string = "ACCOUNT_LOCKED"; }
export class RateLimitExceeded extends MemBankError { static override readonly code: string = "RATE_LIMIT_EXCEEDED"; }
export class EmbeddingServiceError extends MemBankError { static override readonly code: string = "EMBEDDING_SERVICE_ERROR"; }
export class LLMServiceError extends MemBankError { static override readonly code: string = "LLM_SERVICE_ERROR"; }
export class Overloaded extends MemBankError { static override readonly code: string = "OVERLOADED"; }
export class BackendUnavailable extends MemBankError { static override readonly code: string = "BACKEND_UNAVAILABLE"; }
export class IndexUnavailable extends BackendUnavailable { static override readonly code: string = "INDEX_UNAVAILABLE"; }
export class RateLimiterUnavailable extends BackendUnavailable { static override readonly code: string = "RATE_LIMITER_UNAVAILABLE"; }
export class Unhealthy extends MemBankError { static override readonly code: string = "UNHEALTHY"; }
export class NotReady extends MemBankError { static override readonly code: string = "NOT_READY"; }

type ErrorClass = typeof MemBankError;

/** Every server error class, by the code it stands for. */
export const ERROR_CLASSES: ReadonlyMap<string, ErrorClass> = new Map(
  [
    MemBankError, ValidationFailed, InvalidUserId, NotFound, MemoryNotFound, JobNotFound, BatchNotFound,
    SessionNotFound, LoginSessionNotFound, KeyNotFound, ServiceAccountNotFound, AccountNotFound, RoleNotFound,
    TeamNotFound, IpRuleNotFound, TenantNotFound, Unauthorized, SignatureRequired, InvalidSignature,
    SignatureExpired, ReplayedRequest, InvalidCredentials, MfaRequired, Forbidden, IpNotAllowed, IpDenied,
    StepUpRequired, RegistrationClosed, RegistrationDomainRefused, MfaEnrolmentRequired, PasswordChangeRequired,
    Conflict, LeaseLost, MemoryChanged, MemoryNotCurrent, PayloadTooLarge, JobQueueFull, AccountLocked,
    RateLimitExceeded, EmbeddingServiceError, LLMServiceError, Overloaded, BackendUnavailable, IndexUnavailable,
    RateLimiterUnavailable, Unhealthy, NotReady,
  ].map((cls): [string, ErrorClass] => [cls.code, cls]),
);

// An unknown code (a newer server) gets the root class of its status, so `instanceof NotFound` still works.
const ROOT_BY_STATUS: ReadonlyMap<number, ErrorClass> = new Map<number, ErrorClass>([
  [400, ValidationFailed],
  [401, Unauthorized],
  [403, Forbidden],
  [404, NotFound],
  [409, Conflict],
  [413, PayloadTooLarge],
]);

/** The error for a server's answer: the class of its code, else the root class of its status. */
export function errorFor(init: MemBankErrorInit): MemBankError {
  const cls = ERROR_CLASSES.get(init.code) ?? ROOT_BY_STATUS.get(init.status) ?? MemBankError;
  return new cls(init);
}
