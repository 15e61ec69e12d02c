/**
 * Request and response types of every operation, derived from the types that openapi-typescript generates
 * from docs/openapi.json at build time (src/generated/openapi.ts, not committed). Deriving them keeps the SDK
 * in step with the API: a changed schema changes these types, and a declared endpoint that the API does not
 * have fails to compile.
 */
import type { components, paths } from "./generated/openapi.js";

export type Schemas = components["schemas"];
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export type PathTemplate = keyof paths;

/** The OpenAPI operation behind METHOD + path template (never when the API has no such operation). */
export type Operation<M extends HttpMethod, P extends PathTemplate> =
  Lowercase<M> extends keyof paths[P] ? NonNullable<paths[P][Lowercase<M>]> : never;

/** The path templates that have an operation for METHOD. */
export type PathsWith<M extends HttpMethod> = {
  [P in PathTemplate]: [Operation<M, P>] extends [never] ? never : P;
}[PathTemplate];

type SuccessStatus = 200 | 201 | 202;
type SuccessBodies<O> = O extends { responses: infer R }
  ? {
      [S in keyof R]: S extends SuccessStatus
        ? R[S] extends { content: infer C }
          ? C[keyof C]
          : never
        : never;
    }[keyof R]
  : never;

/** What a call answers: the envelope's `data` (or the plain text of a text/plain answer such as /metrics). */
export type ResponseData<O> = SuccessBodies<O> extends infer B ? (B extends { data: infer D } ? D : B) : never;

/** The JSON body an operation takes. */
export type RequestBody<O> = O extends { requestBody?: { content: { "application/json": infer B } } }
  ? B
  : never;

/** The query parameters an operation takes (an empty object when none). */
export type QueryParams<O> = O extends { parameters: { query?: infer Q } }
  ? [Q] extends [never | undefined]
    ? Record<string, never>
    : NonNullable<Q>
  : Record<string, never>;

/** The `{name}` placeholders of a path template. */
export type PathParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never;

/** The OpenAPI operation a declared endpoint calls. */
export type OperationOf<E> = E extends { method: infer M extends HttpMethod; path: infer P extends PathTemplate }
  ? Operation<M, P>
  : never;
/** What a declared endpoint answers. */
export type DataOf<E> = ResponseData<OperationOf<E>>;
/** The JSON body a declared endpoint takes. */
export type BodyOf<E> = RequestBody<OperationOf<E>>;
/** The query parameters a declared endpoint takes. */
export type QueryOf<E> = QueryParams<OperationOf<E>>;
