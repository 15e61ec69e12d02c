// Memories, jobs and errors through the SDK against a real server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  Conflict,
  InvalidUserId,
  MemBank,
  MemBankError,
  MemBankTimeoutError,
  MemoryNotFound,
  NotFound,
  Unauthorized,
  ValidationFailed,
} from "@membank/sdk";

import { ADMIN_KEY, type Server, startServer } from "./support/server.js";

let server: Server;
let client: MemBank;

before(async () => {
  server = await startServer();
  client = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY });
});
after(async () => {
  await server?.stop();
});

describe("memories", () => {
  it("creates, reads, updates, lists its history and deletes a memory", async () => {
    const created = await client.memories.create({ user_id: "crud", content: "I drink green tea", tags: ["drinks"] });
    assert.equal(created.content, "I drink green tea");
    assert.equal((await client.memories.get(created.id)).content, "I drink green tea");

    const updated = await client.memories.update(created.id, { content: "I drink black tea" });
    assert.equal(updated.content, "I drink black tea");
    const history = await client.memories.history(updated.id);
    assert.deepEqual(
      history.history.map((entry) => [entry.event, entry.new_content]),
      [
        ["CREATE", "I drink green tea"],
        ["SUPERSEDED", "I drink black tea"],
        ["UPDATE", "I drink black tea"],
      ],
    );

    const deleted = await client.memories.delete(updated.id);
    assert.equal(deleted.deleted, true);
    assert.ok((await client.memories.get(updated.id)).deleted_at, "a soft delete keeps the row");
    await client.memories.delete(updated.id, { hard: true });
    await assert.rejects(client.memories.get(updated.id), (error: MemBankError) => {
      assert.ok(error instanceof MemoryNotFound && error instanceof NotFound && error instanceof MemBankError);
      assert.equal(error.code, "MEMORY_NOT_FOUND");
      assert.equal(error.status, 404);
      assert.match(error.requestId ?? "", /^[0-9a-f]{32}$/);
      return true;
    });
  });

  it("finds memories by meaning and reports stats", async () => {
    await client.memories.create({ user_id: "search", content: "My dog is called Rex" });
    await client.memories.create({ user_id: "search", content: "I work as a carpenter in Lisbon" });
    const found = await client.memories.search({ user_id: "search", query: "what is my pet's name", limit: 1 });
    assert.equal(found.memories.length, 1);
    assert.equal(found.memories[0].content, "My dog is called Rex");
    assert.ok(typeof found.memories[0].score === "number");
    const stats = await client.memories.stats("search");
    assert.equal(stats.total, 2);
  });

  it("iterates over every page of a user's memories", async () => {
    const contents = Array.from({ length: 7 }, (_, index) => `Fact number ${index} about pages`);
    const job = await client.memories.batch({
      memories: contents.map((content) => ({ user_id: "pages", content })),
    });
    const done = await client.jobs.waitFor(job.id, { timeoutMs: 60_000 });
    assert.equal(done.status, "completed");

    const seen: string[] = [];
    for await (const memory of client.memories.iterate("pages", { limit: 3, sort_order: "asc" })) {
      seen.push(memory.content);
    }
    assert.deepEqual(seen.sort(), [...contents].sort());
    const firstPage = await client.memories.list("pages", { limit: 3 });
    assert.equal(firstPage.memories.length, 3);
    assert.equal(firstPage.total, 7);
  });

  it("imports a batch and reports its items once the job is done", async () => {
    const job = await client.memories.batch({
      memories: [
        { user_id: "batch", content: "I was born in Porto" },
        { user_id: "batch", content: "I play the cello" },
      ],
    });
    assert.ok(["queued", "processing", "completed"].includes(job.status));
    const done = await client.jobs.waitFor(job.id, { timeoutMs: 60_000, pollMs: 50 });
    assert.equal(done.status, "completed");
    const items = await client.jobs.items(job.id);
    assert.equal(items.total, 2);
    assert.equal((await client.memories.list("batch")).total, 2);
  });

  it("turns a conversation into memories and synthesizes a context from them", async () => {
    const job = await client.memories.processConversation({
      user_id: "chat",
      session_id: "s1",
      user_input: "I moved to Berlin last month and I work at Acme.",
      ai_response: "Welcome to Berlin!",
    });
    const done = await client.jobs.waitFor(job.id, { timeoutMs: 60_000 });
    assert.equal(done.status, "completed", JSON.stringify(done));
    const contents = (await client.memories.list("chat")).memories.map((memory) => memory.content);
    assert.ok(contents.some((content) => content.includes("Berlin")), contents.join(" | "));

    const context = await client.memories.synthesizeContext({ user_id: "chat", query: "Where does the user live?" });
    assert.match(context.context, /Berlin/);
    assert.ok(context.memories.length >= 1);
    const sessions = await client.users.sessions("chat");
    assert.deepEqual(sessions.sessions.map((session) => session.session_id), ["s1"]);
    assert.equal((await client.users.session("chat", "s1")).session_id, "s1");
  });

  it("does a create once when it is sent again with the same Idempotency-Key", async () => {
    const body = { user_id: "idem", content: "I have two sisters" };
    const first = await client.memories.create(body, { idempotencyKey: "ts-sdk-idem-1" });
    const again = await client.memories.create(body, { idempotencyKey: "ts-sdk-idem-1" });
    assert.equal(again.id, first.id);
    assert.equal((await client.memories.list("idem")).total, 1);
    await assert.rejects(
      client.memories.create({ ...body, content: "another body" }, { idempotencyKey: "ts-sdk-idem-1" }),
      Conflict,
    );
    await assert.rejects(client.memories.search({ user_id: "idem", query: "q" }, { idempotencyKey: "k" }), TypeError);
    // Without a key of the caller's, each call gets a fresh one: two creates, two memories.
    await client.memories.create(body);
    assert.equal((await client.memories.list("idem")).total, 2);
  });
});

describe("errors", () => {
  it("raises the subclass of each error code, with its details and request id", async () => {
    await assert.rejects(client.memories.create({ user_id: "bad user!", content: "x" }), (error: MemBankError) => {
      assert.ok(error instanceof ValidationFailed, error.constructor.name);
      assert.ok(error.status === 400 && error.requestId);
      return true;
    });
    await assert.rejects(client.memories.list("bad user!"), (error: MemBankError) => {
      assert.ok(error instanceof InvalidUserId, `${error.constructor.name} ${error.code}`);
      return true;
    });
    const stranger = new MemBank({ baseUrl: server.url, apiKey: "mbk_nope_notakey" });
    await assert.rejects(stranger.memories.list("u1"), (error: MemBankError) => {
      assert.ok(error instanceof Unauthorized);
      assert.equal(error.status, 401);
      assert.ok(!error.message.includes("mbk_nope_notakey"), "the key must not be in the message");
      return true;
    });
  });

  it("gives up after the timeout with a MemBankTimeoutError", async () => {
    // A real request the server needs longer than 1 ms for (an embedding plus a write).
    const started = Date.now();
    await assert.rejects(
      client.memories.create({ user_id: "slow", content: "I like long walks" }, { timeoutMs: 1 }),
      (error: MemBankError) => {
        assert.ok(error instanceof MemBankTimeoutError, String(error));
        assert.equal(error.code, "TIMEOUT");
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000);
  });
});
