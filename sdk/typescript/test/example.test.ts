// examples/typescript: it type-checks against the built package, and its chat loop remembers through a real server.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { ADMIN_KEY, type Server, repoDir, startServer } from "./support/server.js";

const run = promisify(execFile);
const exampleDir = join(repoDir, "examples/typescript");
const tsc = join(repoDir, "sdk/typescript/node_modules/.bin/tsc");
// Inside this package, so that its `@membank/sdk` import resolves to the package itself when run.
const outDir = join(repoDir, "sdk/typescript/build/example");

let server: Server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

describe("TypeScript example", () => {
  it("compiles against the package's types and runs a chat that remembers", async () => {
    await run(tsc, ["-p", join(exampleDir, "tsconfig.json"), "--outDir", outDir]);
    const { stdout } = await run(
      process.execPath,
      [join(outDir, "chat.js"), "I moved to Lisbon and I work as a nurse.", "Where do I live?"],
      { env: { ...process.env, MEMBANK_URL: server.url, MEMBANK_API_KEY: ADMIN_KEY, LLM_BASE_URL: "" } },
    );
    const lines = stdout.trim().split("\n");
    assert.equal(lines[1], "assistant> I don't know anything about you yet.", stdout);
    assert.match(lines[2] ?? "", /^\(memory: completed, .*ADD/, stdout);
    assert.match(lines[4] ?? "", /^assistant> From what I remember: .*Lisbon/, stdout);
  });

  it("reports a MemBank error with its code and request id", async () => {
    await assert.rejects(
      run(process.execPath, [join(outDir, "chat.js"), "hello"], {
        env: { ...process.env, MEMBANK_URL: server.url, MEMBANK_API_KEY: "mbk_wrong_key", LLM_BASE_URL: "" },
      }),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, /^MemBank said UNAUTHORIZED \(401\): .* \[request [0-9a-f]{32}\]/);
        assert.ok(!error.stderr.includes("mbk_wrong_key"));
        return true;
      },
    );
  });
});
