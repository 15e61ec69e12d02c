// The hooks rendered by React itself (react-dom in a jsdom document, and react-dom/server) against a real server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { JSDOM } from "jsdom";
import { act, createElement, useEffect, useState } from "react";
import { type Root, createRoot } from "react-dom/client";
import { renderToString } from "react-dom/server";

import { MemBank, MemoryNotFound } from "@membank/sdk";
import { MemBankProvider, useMemBank, useMemories, useSearch } from "@membank/sdk/react";

import { ADMIN_KEY, type Server, startServer } from "./support/server.js";

let server: Server;
let client: MemBank;

before(async () => {
  server = await startServer();
  client = new MemBank({ baseUrl: server.url, apiKey: ADMIN_KEY });
  await client.memories.create({ user_id: "hooks", content: "My favourite colour is teal" });
  await client.memories.create({ user_id: "hooks", content: "I am allergic to peanuts" });
  const dom = new JSDOM("<!doctype html><div id=root></div>");
  Object.assign(globalThis, { window: dom.window, document: dom.window.document, IS_REACT_ACT_ENVIRONMENT: true });
});
after(async () => {
  await server?.stop();
});

interface Mounted {
  root: Root;
  /** Waits (acting, so effects and answers get rendered) until the text satisfies `ready`; answers the text. */
  until(ready: (text: string) => boolean): Promise<string>;
}

/** Renders `element` under a MemBankProvider into a fresh container of the jsdom document. */
async function mount(element: React.ReactElement): Promise<Mounted> {
  const container = document.createElement("div");
  const root = createRoot(container);
  await act(async () => root.render(createElement(MemBankProvider, { client }, element)));
  return {
    root,
    async until(ready) {
      const deadline = Date.now() + 20_000;
      while (!ready(container.textContent ?? "")) {
        if (Date.now() > deadline) assert.fail(`never rendered as expected: ${container.textContent}`);
        await act(() => new Promise((done) => setTimeout(done, 20)));
      }
      return container.textContent ?? "";
    },
  };
}

function MemoryList({ userId }: { userId: string }) {
  const { memories, total, loading, error } = useMemories(userId, { sort_by: "created_at", sort_order: "asc" });
  if (error) return createElement("p", null, `error ${error.message}`);
  if (loading) return createElement("p", null, "loading");
  return createElement(
    "ul",
    { title: `total ${total}` },
    memories.map((memory) => createElement("li", { key: memory.id }, `${memory.content};`)),
  );
}

function Search({ query }: { query: string }) {
  const { results, loading } = useSearch("hooks", query, { limit: 1 });
  return createElement("p", null, loading ? "searching" : `found:${results.map((m) => m.content).join("|")}`);
}

describe("React hooks", () => {
  it("useMemories renders a user's memories once they arrive", async () => {
    const mounted = await mount(createElement(MemoryList, { userId: "hooks" }));
    const text = await mounted.until((t) => t.includes(";"));
    assert.equal(text, "My favourite colour is teal;I am allergic to peanuts;");
    await act(async () => mounted.root.unmount());
  });

  it("useMemories fetches again on refresh", async () => {
    let refresh: () => void = () => undefined;
    function Counting() {
      const state = useMemories("refreshing");
      refresh = state.refresh;
      return createElement("p", null, state.loading ? "loading" : `count ${state.total}`);
    }
    const mounted = await mount(createElement(Counting));
    await mounted.until((t) => t === "count 0");
    await client.memories.create({ user_id: "refreshing", content: "I speak Welsh" });
    await act(async () => refresh());
    await mounted.until((t) => t === "count 1");
    await act(async () => mounted.root.unmount());
  });

  it("useSearch ranks memories for the query and follows a new query", async () => {
    let setQuery: (query: string) => void = () => undefined;
    function Searching() {
      const [query, set] = useState("");
      setQuery = set;
      return createElement(Search, { query });
    }
    const mounted = await mount(createElement(Searching));
    assert.equal(await mounted.until((t) => t.startsWith("found:")), "found:", "a blank query searches nothing");
    await act(async () => setQuery("what can I not eat"));
    await mounted.until((t) => t === "found:I am allergic to peanuts");
    await act(async () => setQuery("which colour do I like"));
    await mounted.until((t) => t === "found:My favourite colour is teal");
    await act(async () => mounted.root.unmount());
  });

  it("hands the server's errors to the component, as MemBankError subclasses", async () => {
    function Missing() {
      const memBank = useMemBank();
      const [text, setText] = useState("waiting");
      useEffect(() => {
        memBank.memories.get("00000000-0000-4000-8000-000000000000").then(
          () => setText("found?"),
          (error: unknown) => setText(error instanceof MemoryNotFound ? "not found" : String(error)),
        );
      }, [memBank]);
      return createElement("p", null, text);
    }
    const missing = await mount(createElement(Missing));
    assert.equal(await missing.until((t) => t !== "waiting"), "not found");
    await act(async () => missing.root.unmount());
    const invalid = await mount(createElement(MemoryList, { userId: "bad user!" }));
    assert.match(await invalid.until((t) => t.startsWith("error")), /user/i);
    await act(async () => invalid.root.unmount());
  });

  it("renders on the server in its loading state, and refuses to run without a provider", () => {
    const html = renderToString(createElement(MemBankProvider, { client }, createElement(MemoryList, { userId: "hooks" })));
    assert.equal(html, "<p>loading</p>");
    assert.throws(() => renderToString(createElement(MemoryList, { userId: "hooks" })), /MemBankProvider/);
  });
});
