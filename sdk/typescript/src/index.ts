export { MemBank } from "./client.js";
export { ENDPOINTS, OPERATIONS, type Endpoint, type RetryClass } from "./endpoints.js";
export * from "./errors.js";
export { signRequest } from "./signing.js";
export type { ClientOptions, RequestOptions } from "./transport.js";
export type { CallOptions } from "./resources/base.js";
export type {
  BatchAccepted,
  BatchCreate,
  DirectMemoryCreate,
  IterateOptions,
  Job,
  JobStatus,
  Memory,
  MemoryCreate,
  WaitOptions,
} from "./resources/memories.js";
export type { BodyOf, DataOf, QueryOf, Schemas } from "./types.js";
export type { components, paths } from "./generated/openapi.js";
