/** Memories, the jobs and batches that write them, and the end users they belong to. */
import { ENDPOINTS } from "../endpoints.js";
import { MemBankTimeoutError } from "../errors.js";
import { type RequestOptions, sleep } from "../transport.js";
import type { BodyOf, DataOf, Schemas } from "../types.js";
import { type CallOptions, Resource } from "./base.js";

const M = ENDPOINTS.memories;
const J = ENDPOINTS.jobs;

// The schema's "direct or extracting" constraint comes out of openapi-typescript as extra union members
// with no required fields; keeping only the full object keeps `user_id` and `content` required.
export type MemoryCreate = Extract<Schemas["MemoryCreateIn"], { content: string }>;
export type BatchCreate = Extract<Schemas["BatchIn"], { options?: unknown }>;
export type Memory = Schemas["MemoryOut"];
export type Job = Schemas["JobOut"];
/** The extraction jobs of a batch of conversations (one per conversation). */
export type BatchAccepted = Schemas["BatchAcceptedOut"];
/** A create stored as given: no `infer`, no `context`. */
export type DirectMemoryCreate = MemoryCreate & { infer?: false; context?: null };
export type JobStatus = Job["status"];

export interface IterateOptions extends Omit<CallOptions<typeof M.list>, "offset"> {
  /** Memories fetched per request (1..100, default 100). */
  limit?: number;
}

export interface WaitOptions {
  /** Give up after this long (default 600 000 ms): a MemBankTimeoutError. */
  timeoutMs?: number;
  /** Time between polls (default 200 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

/** The statuses after which a job does not change any more. */
const FINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "dead"]);

export class Memories extends Resource {
  /** Store one memory as given (the answer is the memory), or with `infer: true` or a `context` queue its
   * extraction as a job (the answer is the job). */
  create(body: DirectMemoryCreate, options?: CallOptions<typeof M.create>): Promise<Memory>;
  create(body: MemoryCreate, options?: CallOptions<typeof M.create>): Promise<Memory | Job>;
  create(body: MemoryCreate, options?: CallOptions<typeof M.create>): Promise<DataOf<typeof M.create>> {
    return this.call(M.create, { body }, options);
  }

  get(memoryId: string, options?: RequestOptions): Promise<DataOf<typeof M.get>> {
    return this.call(M.get, { path: { memory_id: memoryId } }, options);
  }

  /** Change a memory: the answer is its new current version. */
  update(
    memoryId: string,
    body: BodyOf<typeof M.update>,
    options?: RequestOptions,
  ): Promise<DataOf<typeof M.update>> {
    return this.call(M.update, { path: { memory_id: memoryId }, body }, options);
  }

  /** Delete a memory (soft by default; `hard: true` erases it). */
  delete(memoryId: string, options?: CallOptions<typeof M.delete>): Promise<DataOf<typeof M.delete>> {
    return this.call(M.delete, { path: { memory_id: memoryId } }, options);
  }

  /** Every version of a memory, oldest first. */
  history(memoryId: string, options?: RequestOptions): Promise<DataOf<typeof M.history>> {
    return this.call(M.history, { path: { memory_id: memoryId } }, options);
  }

  search(body: BodyOf<typeof M.search>, options?: RequestOptions): Promise<DataOf<typeof M.search>> {
    return this.call(M.search, { body }, options);
  }

  /** Queue an import of memories (the answer is its job) or the extraction of conversations (one job each,
   * the answer lists them); `jobs.waitFor` a job, `batches.get` the batch. */
  batch(
    body: BatchCreate & { memories: NonNullable<BatchCreate["memories"]>; conversations?: null },
    options?: CallOptions<typeof M.batch>,
  ): Promise<Job>;
  batch(body: BatchCreate, options?: CallOptions<typeof M.batch>): Promise<Job | BatchAccepted>;
  batch(body: BatchCreate, options?: CallOptions<typeof M.batch>): Promise<DataOf<typeof M.batch>> {
    return this.call(M.batch, { body }, options);
  }

  /** Extract memories from one exchange of a conversation (a job; `wait: true` answers when it is done). */
  processConversation(
    body: BodyOf<typeof M.processConversation>,
    options?: CallOptions<typeof M.processConversation>,
  ): Promise<DataOf<typeof M.processConversation>> {
    return this.call(M.processConversation, { body }, options);
  }

  /** A context for a query, made of the user's memories, with the memories it cites. */
  synthesizeContext(
    body: BodyOf<typeof M.synthesizeContext>,
    options?: RequestOptions,
  ): Promise<DataOf<typeof M.synthesizeContext>> {
    return this.call(M.synthesizeContext, { body }, options);
  }

  /** One page of a user's memories. */
  list(userId: string, options?: CallOptions<typeof M.list>): Promise<DataOf<typeof M.list>> {
    return this.call(M.list, { path: { user_id: userId } }, options);
  }

  /** Every memory of a user, fetched page by page as the loop goes on. */
  async *iterate(userId: string, options: IterateOptions = {}): AsyncGenerator<Memory, void, undefined> {
    const limit = options.limit ?? 100;
    for (let offset = 0; ; ) {
      const page = await this.list(userId, { ...options, limit, offset });
      yield* page.memories;
      offset += page.memories.length;
      if (page.memories.length === 0 || offset >= page.total) return;
    }
  }

  stats(userId: string, options?: RequestOptions): Promise<DataOf<typeof M.stats>> {
    return this.call(M.stats, { path: { user_id: userId } }, options);
  }
}

export class Jobs extends Resource {
  get(jobId: string, options?: RequestOptions): Promise<Job> {
    return this.call(J.get, { path: { job_id: jobId } }, options);
  }

  /** What a job did, item by item. */
  items(jobId: string, options?: CallOptions<typeof J.items>): Promise<DataOf<typeof J.items>> {
    return this.call(J.items, { path: { job_id: jobId } }, options);
  }

  /** Poll a job until it is completed or dead, and answer it in that state. */
  async waitFor(jobId: string, options: WaitOptions = {}): Promise<Job> {
    const timeoutMs = options.timeoutMs ?? 600_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.get(jobId, { signal: options.signal });
      if (FINAL_STATUSES.has(job.status)) return job;
      if (Date.now() >= deadline) {
        throw new MemBankTimeoutError({
          code: "TIMEOUT",
          status: 0,
          message: `job ${jobId} is still ${job.status} after ${timeoutMs} ms`,
          details: { job_id: jobId, status: job.status },
        });
      }
      await sleep(Math.max(0, Math.min(options.pollMs ?? 200, deadline - Date.now())), options.signal);
    }
  }
}

export class Batches extends Resource {
  get(batchId: string, options?: RequestOptions): Promise<DataOf<typeof ENDPOINTS.batches.get>> {
    return this.call(ENDPOINTS.batches.get, { path: { batch_id: batchId } }, options);
  }
}

/** The end users whose memories these are. */
export class Users extends Resource {
  sessions(userId: string, options?: CallOptions<typeof ENDPOINTS.users.sessions>) {
    return this.call(ENDPOINTS.users.sessions, { path: { user_id: userId } }, options);
  }

  session(userId: string, sessionId: string, options?: RequestOptions) {
    return this.call(ENDPOINTS.users.session, { path: { user_id: userId, session_id: sessionId } }, options);
  }
}
