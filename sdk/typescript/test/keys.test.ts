// API keys, bearer auth and the administrative reads, through the SDK against a real server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";

import {
  Forbidden,
  KeyNotFound,
  MemBank,
  type MemBankError,
  ReplayedRequest,
  SignatureRequired,
  Unauthorized,
  signRequest,
} from "@membank/sdk";

import { ADMIN_KEY, type Server, startServer } from "./support/server.js";

let server: Server;
let admin: MemBank;

before(async () => {
  server = await startServer();
  admin = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY });
});
after(async () => {
  await server?.stop();
});

describe("keys", () => {
  it("issues a key that works as X-API-Key and as a bearer token, within its scopes", async () => {
    const issued = await admin.keys.create({ name: "reader", scopes: ["memories:read"] });
    assert.match(issued.key, /^mbk_/);
    const listed = await admin.keys.list();
    assert.ok(listed.keys.some((key) => key.id === issued.id && key.name === "reader"));
    assert.equal((await admin.keys.get(issued.id)).name, "reader");

    await admin.memories.create({ user_id: "keys", content: "I collect stamps" });
    const byHeader = new MemBank({ baseUrl: server.url, apiKey: issued.key });
    const byBearer = new MemBank({ baseUrl: server.url, bearerToken: issued.key });
    assert.equal((await byHeader.memories.list("keys")).total, 1);
    assert.equal((await byBearer.memories.list("keys")).total, 1);
    await assert.rejects(byBearer.memories.create({ user_id: "keys", content: "I may not write" }), (error: MemBankError) => {
      assert.ok(error instanceof Forbidden, error.constructor.name);
      assert.ok(error.requestId);
      return true;
    });
    const usage = await admin.keys.usage(issued.id, { days: 1 });
    assert.equal(usage.key_id, issued.id);
  });

  it("rotates, revokes and deletes a key", async () => {
    const issued = await admin.keys.create({ name: "rotating" });
    const rotated = await admin.keys.rotate(issued.id, { grace_seconds: 0 });
    assert.notEqual(rotated.key, issued.key);
    await assert.rejects(new MemBank({ baseUrl: server.url, apiKey: issued.key }).memories.list("keys"), Unauthorized);
    const current = new MemBank({ baseUrl: server.url, apiKey: rotated.key });
    await current.memories.list("keys");

    const revoked = await admin.keys.revoke(issued.id);
    assert.ok(revoked.revoked_at);
    await assert.rejects(current.memories.list("keys"), Unauthorized);
    // DELETE revokes too (the row stays for its audit trail); an unknown id is a KeyNotFound.
    assert.ok((await admin.keys.delete(issued.id)).revoked_at);
    await assert.rejects(admin.keys.get("00000000-0000-4000-8000-000000000000"), KeyNotFound);
  });

  it("keeps the key out of what a client prints, and refuses bad options clearly", () => {
    assert.ok(!inspect(admin, { depth: 10, showHidden: true }).includes(ADMIN_KEY));
    assert.throws(() => new MemBank({ baseUrl: "localhost:8000" }), /baseUrl must be an http\(s\) URL/);
    assert.throws(() => new MemBank({ baseUrl: server.url, apiKey: "a", bearerToken: "b" }), /not both/);
    assert.throws(() => new MemBank({ baseUrl: server.url, maxRetries: -1 }), /maxRetries must be a number >= 0/);
  });

  it("signs every request for a key that requires it, and the server refuses a replay", async () => {
    const issued = await admin.keys.create({ name: "signing", require_signature: true });
    const unsigned = new MemBank({ baseUrl: server.url, apiKey: issued.key });
    await assert.rejects(unsigned.memories.list("signed"), SignatureRequired);

    const signed = new MemBank({ baseUrl: server.url, apiKey: issued.key, signRequests: true });
    const created = await signed.memories.create({ user_id: "signed@example.org", content: "I sign my letters" });
    const page = await signed.memories.list("signed@example.org", { limit: 5, sort_by: "created_at" });
    assert.deepEqual(page.memories.map((memory) => memory.id), [created.id]);

    const url = `${server.url}/api/v1/memories/${created.id}`;
    const headers = { "X-API-Key": issued.key, ...(await signRequest(issued.key, "GET", url)) };
    assert.equal((await fetch(url, { headers })).status, 200);
    const replay = await fetch(url, { headers });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as { error: { code: string } }).error.code, ReplayedRequest.code);
  });

  it("switches credentials with withAuth", async () => {
    const issued = await admin.keys.create({ name: "switched", scopes: ["memories:read"] });
    const switched = admin.withAuth({ bearerToken: issued.key });
    await assert.rejects(switched.keys.list(), Forbidden);
    assert.ok((await admin.keys.list()).keys.length >= 2, "the original client keeps its key");
  });
});

describe("administration and health", () => {
  it("answers the read-only operations of the other resources", async () => {
    assert.equal((await admin.health.live()).status, "ok");
    assert.equal((await admin.health.ready()).status, "ok");
    assert.ok((await admin.health.health()).components);
    assert.match(await admin.health.metrics(), /^# (HELP|TYPE) /m);
    assert.ok(Array.isArray((await admin.wellKnown.jwks()).keys));
    assert.ok(Array.isArray((await admin.roles.list()).roles));
    // The configured admin key is its tenant's admin; the deployment-wide reads need a platform admin.
    await assert.rejects(admin.tenants.list(), Forbidden);
    const issued = await admin.keys.create({ name: "platform", roles: ["platform-admin"], scopes: ["admin"] });
    const platform = admin.withAuth({ apiKey: issued.key });
    assert.ok((await platform.tenants.list()).tenants.length >= 1);
    assert.ok(Array.isArray((await platform.admin.capacity()).recommendations));
    assert.ok((await platform.admin.diagnostics()).findings);
    assert.ok((await platform.admin.usage()).tenants);
    assert.ok(Array.isArray((await admin.serviceAccounts.list()).service_accounts));
    assert.ok(Array.isArray((await admin.securityEvents.list({ limit: 5 })).events));
    assert.ok(Array.isArray((await admin.ipRules.list()).rules));
    assert.ok(Array.isArray((await admin.usage.llm()).totals));
  });

  it("creates a team and manages its members", async () => {
    const team = await admin.teams.create({ name: "support" });
    await admin.teams.addMember(team.id, "alice");
    assert.deepEqual((await admin.teams.members(team.id)).user_ids, ["alice"]);
    await admin.teams.removeMember(team.id, "alice");
    assert.deepEqual((await admin.teams.members(team.id)).user_ids, []);
    await admin.teams.delete(team.id);
    assert.ok(!(await admin.teams.list()).teams.some((listed) => listed.id === team.id));
  });
});
