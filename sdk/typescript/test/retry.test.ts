// Against a real server with a tiny per-key rate limit (2 requests at once, then 2 a second) and no job
// workers (so that a job stays queued): retries, and waiting for a job that does not finish.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { MemBank, MemBankConnectionError, type MemBankError, MemBankTimeoutError, RateLimitExceeded } from "@membank/sdk";

import { ADMIN_KEY, type Server, freePort, startServer } from "./support/server.js";

let server: Server;

before(async () => {
  server = await startServer({
    MEMBANK_RATE_LIMIT_PER_MINUTE: "120",
    MEMBANK_RATE_LIMIT_BURST: "2",
    MEMBANK_RUN_WORKERS: "false",
  });
});
after(async () => {
  await server?.stop();
});

/** The real fetch, counting the requests it sends. */
function countingFetch(): { fetch: typeof fetch; sent: () => number } {
  let sent = 0;
  return {
    fetch: (input, init) => {
      sent += 1;
      return fetch(input, init);
    },
    sent: () => sent,
  };
}

async function drainAllowance(): Promise<void> {
  // Wait for the allowance to refill, so each test starts with its burst of 2.
  await new Promise((done) => setTimeout(done, 1_100));
}

describe("retries", () => {
  it("refuses a burst over the limit with RateLimitExceeded and its Retry-After", async () => {
    await drainAllowance();
    const client = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY, maxRetries: 0 });
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => client.memories.list("burst")));
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    assert.ok(refused.length >= 1, "the limit must refuse some of the burst");
    const error = (refused[0] as PromiseRejectedResult).reason as MemBankError;
    assert.ok(error instanceof RateLimitExceeded, String(error));
    assert.equal(error.status, 429);
    assert.ok(error.retryAfter !== null && error.retryAfter > 0 && error.retryAfter <= 2, `retryAfter ${error.retryAfter}`);
    assert.ok(error.requestId);
  });

  it("waits out a real 429 and succeeds, creates included", async () => {
    await drainAllowance();
    const counted = countingFetch();
    const client = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY, fetch: counted.fetch });
    const started = Date.now();
    const created = [];
    for (let index = 0; index < 4; index++) {
      created.push(await client.memories.create({ user_id: "retried", content: `I own ${index + 2} bicycles` }));
    }
    assert.equal(created.length, 4);
    assert.ok(counted.sent() > 4, `only ${counted.sent()} requests: no 429 was retried`);
    assert.ok(Date.now() - started >= 500, "the retries must wait for the Retry-After");
    const listing = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY });
    await drainAllowance();
    assert.equal((await listing.memories.list("retried")).total, 4, "each create was done once");
  });

  it("gives up when the Retry-After is longer than the retries may wait", async () => {
    await drainAllowance();
    const client = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY, maxRetryWaitMs: 10 });
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map(() => client.memories.list("budget")));
    assert.ok(outcomes.some((outcome) => outcome.status === "rejected" && outcome.reason instanceof RateLimitExceeded));
  });
});

describe("connection errors", () => {
  let deadUrl: string;
  before(async () => {
    deadUrl = `http://127.0.0.1:${await freePort()}`;
  });

  it("retries a read, then raises MemBankConnectionError", async () => {
    const counted = countingFetch();
    const client = new MemBank({ baseUrl: deadUrl, apiKey: ADMIN_KEY, fetch: counted.fetch, maxRetries: 2, backoffMs: 1 });
    await assert.rejects(client.memories.get("any"), (error: MemBankError) => {
      assert.ok(error instanceof MemBankConnectionError, String(error));
      assert.equal(error.status, 0);
      assert.ok(!error.message.includes(ADMIN_KEY));
      return true;
    });
    assert.equal(counted.sent(), 3);
  });

  it("does not repeat a create without Idempotency-Key support after a lost connection", async () => {
    const counted = countingFetch();
    const client = new MemBank({ baseUrl: deadUrl, apiKey: ADMIN_KEY, fetch: counted.fetch, maxRetries: 2, backoffMs: 1 });
    await assert.rejects(client.keys.create({ name: "never" }), MemBankConnectionError);
    assert.equal(counted.sent(), 1);
    await assert.rejects(client.memories.create({ user_id: "u", content: "keyed" }), MemBankConnectionError);
    assert.equal(counted.sent(), 4, "a keyed create is retried");
  });
});

describe("jobs.waitFor", () => {
  it("fails with a MemBankTimeoutError when the job is not done in time", async () => {
    await drainAllowance();
    const client = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY });
    const job = await client.memories.processConversation({ user_id: "waiting", user_input: "I live in Rome." });
    const started = Date.now();
    await assert.rejects(client.jobs.waitFor(job.id, { timeoutMs: 700, pollMs: 100 }), (error: MemBankError) => {
      assert.ok(error instanceof MemBankTimeoutError, String(error));
      assert.deepEqual(error.details, { job_id: job.id, status: "queued" });
      return true;
    });
    const waited = Date.now() - started;
    assert.ok(waited >= 700 && waited < 5_000, `waited ${waited} ms`);
  });
});
