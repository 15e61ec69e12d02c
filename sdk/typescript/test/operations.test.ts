// What the SDK declares, checked against the API's own documents: docs/openapi.json and src/membank/errors.py.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { ENDPOINTS, ERROR_CLASSES, MemBankError, OPERATIONS } from "@membank/sdk";

import { repoDir } from "./support/server.js";

interface OpenApiOperation {
  parameters?: { name: string; in: string }[];
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
}
const openapi = JSON.parse(readFileSync(join(repoDir, "docs/openapi.json"), "utf8")) as {
  paths: Record<string, Record<string, OpenApiOperation>>;
};
const METHODS = ["get", "post", "put", "patch", "delete"];
const documented = Object.entries(openapi.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, operation })),
);

describe("OPERATIONS", () => {
  it("covers every operation of docs/openapi.json, and nothing else", () => {
    const covered = OPERATIONS.map(([method, path]) => `${method} ${path}`);
    const missing = documented.map(({ key }) => key).filter((key) => !covered.includes(key));
    assert.deepEqual(missing, [], "operations without an SDK method");
    const unknown = covered.filter((key) => !documented.some((op) => op.key === key));
    assert.deepEqual(unknown, [], "SDK methods the API does not have");
    assert.equal(new Set(covered).size, covered.length, "an operation declared twice");
  });

  it("sends an Idempotency-Key exactly to the operations that honour it", () => {
    const honouring = documented
      .filter(({ operation }) => operation.parameters?.some((p) => p.in === "header" && p.name === "Idempotency-Key"))
      .map(({ key }) => key)
      .sort();
    const keyed = Object.values(ENDPOINTS)
      .flatMap((group) => Object.values(group))
      .filter((declared) => declared.retry === "keyed")
      .map((declared) => `${declared.method} ${declared.path}`)
      .sort();
    assert.ok(honouring.length >= 3);
    assert.deepEqual(keyed, honouring);
  });
});

describe("ENDPOINTS", () => {
  it("unwraps the envelope exactly of the operations whose JSON answer is one", () => {
    const declared = new Map(
      Object.values(ENDPOINTS)
        .flatMap((group) => Object.values(group))
        .map((endpoint) => [`${endpoint.method} ${endpoint.path}`, endpoint.envelope]),
    );
    for (const { key, operation } of documented) {
      const success = operation.responses["200"] ?? operation.responses["201"] ?? operation.responses["202"];
      const json = success?.content?.["application/json"];
      if (json === undefined) continue;
      const isEnvelope = (json.schema.$ref ?? "").startsWith("#/components/schemas/Envelope_");
      assert.equal(declared.get(key), isEnvelope, key);
    }
  });
});

describe("error classes", () => {
  it("has one class per error code of src/membank/errors.py, with the same name and parent", () => {
    const source = readFileSync(join(repoDir, "src/membank/errors.py"), "utf8");
    const declared = [...source.matchAll(/^class (\w+)\((\w+)\):[\s\S]*?^ {4}code = "(\w+)"/gm)];
    assert.ok(declared.length >= 40, `parsed ${declared.length} classes`);
    for (const [, name, parent, code] of declared) {
      const cls = ERROR_CLASSES.get(code as string);
      assert.ok(cls, `no class for ${code}`);
      assert.equal(cls.name, name);
      const parentName = parent === "Exception" ? "Error" : parent;
      assert.equal(Object.getPrototypeOf(cls).name, parentName, `parent of ${name}`);
      assert.ok(cls === MemBankError || cls.prototype instanceof MemBankError);
    }
    assert.equal(ERROR_CLASSES.size, declared.length, "a class the server does not have");
  });
});
