import type { Endpoint } from "../endpoints.js";
import type { CallArgs, RequestOptions, Transport } from "../transport.js";
import type { DataOf, QueryOf } from "../types.js";

/** A call's options: how to send it, and the endpoint's query parameters (named as in the API). */
export type CallOptions<E> = RequestOptions & Partial<QueryOf<E>>;

const REQUEST_OPTION_NAMES = new Set<string>(["signal", "timeoutMs", "maxRetries", "idempotencyKey", "headers"]);

/** A group of operations sharing one transport. */
export abstract class Resource {
  constructor(protected readonly transport: Transport) {}

  /** Calls `endpoint`; `options` carries both the request options and the query parameters. */
  protected call<E extends Endpoint>(
    endpoint: E,
    args: Omit<CallArgs, "query"> = {},
    options: object = {},
  ): Promise<DataOf<E>> {
    const request: Record<string, unknown> = {};
    const query: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(options)) {
      (REQUEST_OPTION_NAMES.has(name) ? request : query)[name] = value;
    }
    return this.transport.call<DataOf<E>>(endpoint, { ...args, query }, request as RequestOptions);
  }
}
