/**
 * Every operation the SDK calls, declared once: the resource clients call these declarations, and
 * OPERATIONS is read off them, so the coverage table cannot drift from what the methods do.
 */
import type { HttpMethod, PathsWith } from "./types.js";

/**
 * How a failed attempt may be repeated.
 * - `safe`: reads, and writes the server applies idempotently (PUT, DELETE, read-only POSTs such as search):
 *   retried on 429/503 and on connection errors.
 * - `keyed`: a creating POST that honours Idempotency-Key; the SDK always sends one (the caller's or a fresh
 *   uuid), so it is retried like `safe` and done once.
 * - `unsafe`: a POST or PATCH without Idempotency-Key support: repeated only after a MemBank error envelope
 *   with 429/503, which states the request changed nothing; never after a lost connection.
 */
export type RetryClass = "safe" | "keyed" | "unsafe";

export interface Endpoint<M extends HttpMethod = HttpMethod, P extends string = string> {
  readonly method: M;
  readonly path: P;
  readonly retry: RetryClass;
  /** Whether a JSON answer is MemBank's envelope (false: a standard document, such as the JWKS). */
  readonly envelope: boolean;
}

interface EndpointOptions {
  /** Default: `safe` for GET, PUT and DELETE, `unsafe` for POST and PATCH. */
  retry?: RetryClass;
  envelope?: boolean;
}

function endpoint<M extends HttpMethod, P extends PathsWith<M>>(
  method: M,
  path: P,
  options: EndpointOptions = {},
): Endpoint<M, P> {
  const retry = options.retry ?? (method === "POST" || method === "PATCH" ? "unsafe" : "safe");
  return { method, path, retry, envelope: options.envelope ?? true };
}

export const ENDPOINTS = {
  memories: {
    create: endpoint("POST", "/api/v1/memories", { retry: "keyed" }),
    get: endpoint("GET", "/api/v1/memories/{memory_id}"),
    update: endpoint("PATCH", "/api/v1/memories/{memory_id}"),
    delete: endpoint("DELETE", "/api/v1/memories/{memory_id}"),
    history: endpoint("GET", "/api/v1/memories/{memory_id}/history"),
    search: endpoint("POST", "/api/v1/memories/search", { retry: "safe" }),
    batch: endpoint("POST", "/api/v1/memories/batch", { retry: "keyed" }),
    processConversation: endpoint("POST", "/api/v1/memories/process-conversation", { retry: "keyed" }),
    synthesizeContext: endpoint("POST", "/api/v1/memories/synthesize-context", { retry: "safe" }),
    list: endpoint("GET", "/api/v1/users/{user_id}/memories"),
    stats: endpoint("GET", "/api/v1/users/{user_id}/memories/stats"),
  },
  jobs: {
    get: endpoint("GET", "/api/v1/jobs/{job_id}"),
    items: endpoint("GET", "/api/v1/jobs/{job_id}/items"),
  },
  batches: {
    get: endpoint("GET", "/api/v1/batches/{batch_id}"),
  },
  users: {
    sessions: endpoint("GET", "/api/v1/users/{user_id}/sessions"),
    session: endpoint("GET", "/api/v1/users/{user_id}/sessions/{session_id}"),
  },
  keys: {
    create: endpoint("POST", "/api/v1/keys"),
    list: endpoint("GET", "/api/v1/keys"),
    get: endpoint("GET", "/api/v1/keys/{key_id}"),
    delete: endpoint("DELETE", "/api/v1/keys/{key_id}"),
    revoke: endpoint("POST", "/api/v1/keys/{key_id}/revoke", { retry: "safe" }),
    rotate: endpoint("POST", "/api/v1/keys/{key_id}/rotate"),
    usage: endpoint("GET", "/api/v1/keys/{key_id}/usage"),
  },
  auth: {
    login: endpoint("POST", "/api/v1/auth/login"),
    logout: endpoint("POST", "/api/v1/auth/logout", { retry: "safe" }),
    refresh: endpoint("POST", "/api/v1/auth/refresh"),
    register: endpoint("POST", "/api/v1/auth/register"),
    me: endpoint("GET", "/api/v1/auth/me"),
    password: endpoint("POST", "/api/v1/auth/password"),
    policyGet: endpoint("GET", "/api/v1/auth/policy"),
    policySet: endpoint("PUT", "/api/v1/auth/policy"),
    mfaEnrol: endpoint("POST", "/api/v1/auth/mfa/enrol"),
    mfaActivate: endpoint("POST", "/api/v1/auth/mfa/activate"),
    mfaDisable: endpoint("POST", "/api/v1/auth/mfa/disable"),
    stepUp: endpoint("POST", "/api/v1/auth/step-up"),
    sessions: endpoint("GET", "/api/v1/auth/sessions"),
    deleteSession: endpoint("DELETE", "/api/v1/auth/sessions/{login_session_id}"),
  },
  wellKnown: {
    jwks: endpoint("GET", "/.well-known/jwks.json", { envelope: false }),
  },
  accounts: {
    list: endpoint("GET", "/api/v1/accounts"),
    create: endpoint("POST", "/api/v1/accounts"),
    get: endpoint("GET", "/api/v1/accounts/{account_id}"),
    update: endpoint("PATCH", "/api/v1/accounts/{account_id}"),
    delete: endpoint("DELETE", "/api/v1/accounts/{account_id}"),
    resetMfa: endpoint("POST", "/api/v1/accounts/{account_id}/reset-mfa"),
    resetPassword: endpoint("POST", "/api/v1/accounts/{account_id}/reset-password"),
    deleteSessions: endpoint("DELETE", "/api/v1/accounts/{account_id}/sessions"),
    unlock: endpoint("POST", "/api/v1/accounts/{account_id}/unlock", { retry: "safe" }),
  },
  roles: {
    list: endpoint("GET", "/api/v1/roles"),
    create: endpoint("POST", "/api/v1/roles"),
    update: endpoint("PATCH", "/api/v1/roles/{name}"),
    delete: endpoint("DELETE", "/api/v1/roles/{name}"),
  },
  teams: {
    list: endpoint("GET", "/api/v1/teams"),
    create: endpoint("POST", "/api/v1/teams"),
    delete: endpoint("DELETE", "/api/v1/teams/{team_id}"),
    members: endpoint("GET", "/api/v1/teams/{team_id}/members"),
    addMember: endpoint("PUT", "/api/v1/teams/{team_id}/members/{user_id}"),
    removeMember: endpoint("DELETE", "/api/v1/teams/{team_id}/members/{user_id}"),
  },
  serviceAccounts: {
    list: endpoint("GET", "/api/v1/service-accounts"),
    create: endpoint("POST", "/api/v1/service-accounts"),
    get: endpoint("GET", "/api/v1/service-accounts/{service_account_id}"),
    disable: endpoint("POST", "/api/v1/service-accounts/{service_account_id}/disable", { retry: "safe" }),
  },
  tenants: {
    list: endpoint("GET", "/api/v1/tenants"),
    create: endpoint("POST", "/api/v1/tenants"),
  },
  ipRules: {
    list: endpoint("GET", "/api/v1/ip-rules"),
    create: endpoint("POST", "/api/v1/ip-rules"),
    delete: endpoint("DELETE", "/api/v1/ip-rules/{rule_id}"),
  },
  admin: {
    usage: endpoint("GET", "/api/v1/admin/usage"),
    usageMonthly: endpoint("GET", "/api/v1/admin/usage/monthly"),
    capacity: endpoint("GET", "/api/v1/admin/capacity"),
    diagnostics: endpoint("GET", "/api/v1/admin/diagnostics"),
    repair: endpoint("POST", "/api/v1/admin/diagnostics/repair"),
  },
  usage: {
    llm: endpoint("GET", "/api/v1/usage/llm"),
  },
  securityEvents: {
    list: endpoint("GET", "/api/v1/security-events"),
  },
  health: {
    health: endpoint("GET", "/health"),
    live: endpoint("GET", "/health/live"),
    ready: endpoint("GET", "/health/ready"),
    metrics: endpoint("GET", "/metrics"),
  },
} as const;

/** What the SDK covers, as (HTTP method, OpenAPI path template) pairs, read off ENDPOINTS. */
export const OPERATIONS: ReadonlyArray<readonly [HttpMethod, string]> = Object.values(ENDPOINTS).flatMap(
  (group) => Object.values(group).map((declared: Endpoint) => [declared.method, declared.path] as const),
);
