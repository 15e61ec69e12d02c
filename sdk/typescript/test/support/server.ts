// A real `membank serve` of this checkout on a free loopback port, for one test file.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Compiled to build/test/support/: the package is three folders up.
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const repoDir = resolve(packageDir, "../..");
export const ADMIN_KEY = "ts-sdk-admin-key-0123456789abcdef";

// `python -m membank.cli.main` runs nothing (the module has no __main__ guard), so call the click group.
const LAUNCH = "import sys; from membank.cli.main import cli; cli(prog_name='membank')";

export interface Server {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** A loopback port nothing listens on (right now). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

const running = new Set<ChildProcess>();
// A test process that dies without its `after` hooks must not leave servers behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts a server (extra MEMBANK_* settings in `env`) and waits until /health/ready answers 200. */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const python = process.env.MEMBANK_PYTHON ?? resolve(packageDir, "../../.venv/bin/python");
  const dataDir = mkdtempSync(join(tmpdir(), "membank-ts-sdk-"));
  const logPath = join(dataDir, "server.log");
  const log = openSync(logPath, "a");
  const port = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("MEMBANK_")));
  const child = spawn(python, ["-c", LAUNCH, "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: repoDir,
    stdio: ["ignore", log, log],
    env: {
      ...inherited,
      PYTHONPATH: [join(repoDir, "src"), process.env.PYTHONPATH].filter(Boolean).join(":"),
      MEMBANK_DATA_DIR: join(dataDir, "data"),
      MEMBANK_ADMIN_API_KEY: ADMIN_KEY,
      MEMBANK_JOB_POLL_SECONDS: "0.05",
      MEMBANK_OUTBOX_POLL_SECONDS: "0.1",
      ...env,
    },
  });
  running.add(child);
  const exited = new Promise((done) => child.once("exit", done));
  const url = `http://127.0.0.1:${port}`;
  const server: Server = {
    url,
    output: () => readFileSync(logPath, "utf8"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) return server;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  const tail = server.output().slice(-4000);
  await server.stop();
  throw new Error(`membank serve did not become ready (python: ${python}):\n${tail}`);
}
