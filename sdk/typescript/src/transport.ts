/**
 * One HTTP exchange with retries: auth headers, Idempotency-Key, timeouts, the envelope unwrapped, and
 * errors turned into MemBankError subclasses. Only the platform's fetch, AbortController and crypto.
 */
import type { Endpoint } from "./endpoints.js";
import { MemBankConnectionError, MemBankError, MemBankTimeoutError, errorFor } from "./errors.js";
import { signRequest } from "./signing.js";

export interface ClientOptions {
  /** Where the API is, e.g. "http://127.0.0.1:8000" (a trailing slash is fine). */
  baseUrl: string;
  /** An API key, sent as X-API-Key. */
  apiKey?: string;
  /** An API key or access token sent as `Authorization: Bearer`, instead of apiKey. */
  bearerToken?: string;
  /** Time for one attempt, in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Repeats after the first attempt (default 3; 0 turns retries off). */
  maxRetries?: number;
  /** First back-off before jitter, doubled per retry (default 250 ms), capped at maxBackoffMs (default 8 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Longest the retries of one call may wait in all (default 60 000 ms): a longer Retry-After is not waited for. */
  maxRetryWaitMs?: number;
  /** Sign every request with apiKey (for keys created with require_signature); a fresh nonce per attempt. */
  signRequests?: boolean;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Aborts the call (and any back-off wait) when signalled. */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
  /** Overrides the client's maxRetries for this call. */
  maxRetries?: number;
  /** For the creating POSTs that honour it; by default a fresh uuid, the same for every retry of the call. */
  idempotencyKey?: string;
  headers?: Record<string, string>;
}

export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>;

export interface CallArgs {
  path?: Record<string, string | number>;
  query?: object;
  body?: unknown;
}

interface Attempt {
  /** An answer of 2xx, with its body read. */
  response?: Response;
  text?: string;
  error?: MemBankError;
  /** Whether a repeat of this attempt is safe for the endpoint. */
  retryable: boolean;
}

const RETRY_STATUSES = new Set([429, 503]);

export class Transport {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  // Private fields (#), unlike `private` ones, stay out of console.log and util.inspect: they hold the key.
  readonly #options: ClientOptions;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions) {
    this.#options = options;
    if (!/^https?:\/\/[^/]/.test(options.baseUrl ?? "")) {
      throw new TypeError(`MemBank: baseUrl must be an http(s) URL, got ${JSON.stringify(options.baseUrl)}`);
    }
    if (options.apiKey && options.bearerToken) {
      throw new TypeError("MemBank: give apiKey or bearerToken, not both");
    }
    if (options.signRequests && !options.apiKey) {
      throw new TypeError("MemBank: signRequests needs the apiKey it signs with");
    }
    for (const name of ["timeoutMs", "maxRetries", "backoffMs", "maxBackoffMs", "maxRetryWaitMs"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TypeError(`MemBank: ${name} must be a number >= 0, got ${String(value)}`);
      }
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#headers = { Accept: "application/json", ...options.headers };
    if (options.apiKey) this.#headers["X-API-Key"] = options.apiKey;
    if (options.bearerToken) this.#headers["Authorization"] = `Bearer ${options.bearerToken}`;
  }

  /** Calls an endpoint and answers the envelope's data (a text/plain answer's text). */
  async call<T>(endpoint: Endpoint, args: CallArgs = {}, options: RequestOptions = {}): Promise<T> {
    const url = this.url(endpoint.path, args);
    const headers: Record<string, string> = { ...this.#headers, ...options.headers };
    let body: string | undefined;
    if (args.body !== undefined) {
      body = JSON.stringify(args.body);
      headers["Content-Type"] = "application/json";
    }
    if (endpoint.retry === "keyed") {
      headers["Idempotency-Key"] = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    } else if (options.idempotencyKey !== undefined) {
      throw new TypeError(`MemBank: ${endpoint.method} ${endpoint.path} does not take an Idempotency-Key`);
    }
    const maxRetries = options.maxRetries ?? this.#options.maxRetries ?? 3;
    const waitBudget = this.#options.maxRetryWaitMs ?? 60_000;
    let waited = 0;
    for (let retry = 0; ; retry++) {
      const signed = this.#options.signRequests
        ? { ...headers, ...(await signRequest(this.#options.apiKey as string, endpoint.method, url, body)) }
        : headers;
      const attempt = await this.attempt(endpoint, url, { method: endpoint.method, headers: signed, body }, options);
      if (attempt.response) return this.unwrap(endpoint, attempt.response, attempt.text ?? "") as T;
      const error = attempt.error as MemBankError;
      if (!attempt.retryable || retry >= maxRetries) throw error;
      const delay = this.delay(retry, error.retryAfter);
      if (waited + delay > waitBudget) throw error;
      waited += delay;
      await sleep(delay, options.signal);
    }
  }

  private url(template: string, args: CallArgs): string {
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = args.path?.[name];
      if (value === undefined || value === "") throw new TypeError(`MemBank: ${name} is required`);
      return encodeURIComponent(String(value));
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries((args.query ?? {}) as Record<string, QueryValue>)) {
      if (value === undefined || value === null) continue;
      for (const item of Array.isArray(value) ? value : [value]) query.append(name, String(item));
    }
    const search = query.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ""}`;
  }

  private async attempt(
    endpoint: Endpoint,
    url: string,
    init: { method: string; headers: Record<string, string>; body: string | undefined },
    options: RequestOptions,
  ): Promise<Attempt> {
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      // The body is read under the same signal, so a stalled body times out like a stalled connection.
      response = await this.fetchImpl(url, { ...init, signal });
      text = await response.text();
    } catch (cause) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) {
        // Not repeated: the server may still be doing the work, and the caller set the time it would wait.
        const message = `${endpoint.method} ${endpoint.path}: no answer within ${timeoutMs} ms`;
        return { error: new MemBankTimeoutError({ code: "TIMEOUT", status: 0, message, cause }), retryable: false };
      }
      const message = `${endpoint.method} ${endpoint.path}: ${describe(cause)}`;
      const error = new MemBankConnectionError({ code: "CONNECTION_ERROR", status: 0, message, cause });
      return { error, retryable: endpoint.retry !== "unsafe" };
    }
    if (response.ok) return { response, text, retryable: false };
    const error = this.failure(response, text);
    // A MemBank error envelope (its code came from the server) says the request changed nothing.
    const fromServer = error.code !== "UNEXPECTED_RESPONSE";
    const retryable = RETRY_STATUSES.has(response.status) && (endpoint.retry !== "unsafe" || fromServer);
    return { error, retryable };
  }

  private unwrap(endpoint: Endpoint, response: Response, text: string): unknown {
    if (!(response.headers.get("content-type") ?? "").includes("application/json")) return text;
    if (!endpoint.envelope) return parse(text);
    const envelope = parse(text) as { success?: boolean; data?: unknown } | undefined;
    if (envelope?.success !== true) {
      throw new MemBankError({
        code: "UNEXPECTED_RESPONSE",
        status: response.status,
        message: `the server's answer is not a MemBank envelope: ${text.slice(0, 200)}`,
        requestId: response.headers.get("x-request-id"),
      });
    }
    return envelope.data;
  }

  private failure(response: Response, text: string): MemBankError {
    const envelope = parse(text) as
      | { success?: boolean; error?: { code?: string; message?: string; details?: Record<string, unknown> } }
      | undefined;
    const requestId = response.headers.get("x-request-id");
    const retryAfter = retryAfterSeconds(response.headers.get("retry-after"), envelope?.error?.details);
    if (envelope?.success === false && typeof envelope.error?.code === "string") {
      return errorFor({
        code: envelope.error.code,
        status: response.status,
        message: envelope.error.message ?? envelope.error.code,
        details: envelope.error.details ?? {},
        requestId,
        retryAfter,
      });
    }
    return new MemBankError({
      code: "UNEXPECTED_RESPONSE",
      status: response.status,
      message: `HTTP ${response.status} without a MemBank error envelope: ${text.slice(0, 200)}`,
      requestId,
      retryAfter,
    });
  }

  /** Retry-After when the server sent one, else exponential back-off with full jitter. */
  private delay(retry: number, retryAfter: number | null): number {
    if (retryAfter !== null) return retryAfter * 1000;
    const base = this.#options.backoffMs ?? 250;
    const cap = this.#options.maxBackoffMs ?? 8_000;
    return Math.random() * Math.min(cap, base * 2 ** retry);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfterSeconds(header: string | null, details: Record<string, unknown> | undefined): number | null {
  if (header !== null) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds;
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, (date - Date.now()) / 1000);
  }
  const fromDetails = details?.["retry_after_seconds"];
  return typeof fromDetails === "number" ? fromDetails : null;
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : "";
    return `${cause.message}${inner}`;
  }
  return String(cause);
}

/** Waits `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
