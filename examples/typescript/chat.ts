/**
 * A tiny chat loop with long-term memory: before answering, ask MemBank for a context about the user's
 * message (synthesizeContext); after answering, hand it the exchange to remember (processConversation).
 *
 *   MEMBANK_URL=http://127.0.0.1:8000 MEMBANK_API_KEY=... node chat.js "I moved to Lisbon" "Where do I live?"
 *
 * With LLM_BASE_URL (and LLM_MODEL, LLM_API_KEY) set, an OpenAI-compatible chat model answers; otherwise the
 * "assistant" just says what it remembers, which is enough to see the memory at work.
 */
import { MemBank, MemBankError } from "@membank/sdk";

const memBank = new MemBank({
  baseUrl: process.env["MEMBANK_URL"] ?? "http://127.0.0.1:8000",
  apiKey: process.env["MEMBANK_API_KEY"] ?? "",
});
const userId = process.env["CHAT_USER_ID"] ?? "demo-user";
const sessionId = `chat-${new Date().toISOString().slice(0, 10)}`;

async function answer(message: string, context: string, remembered: string[]): Promise<string> {
  const baseUrl = process.env["LLM_BASE_URL"];
  if (!baseUrl) {
    return remembered.length > 0 ? `From what I remember: ${remembered.join("; ")}` : "I don't know anything about you yet.";
  }
  const response = await fetch(`${baseUrl.replace(/\/+$/, "")}/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${process.env["LLM_API_KEY"] ?? ""}` },
    body: JSON.stringify({
      model: process.env["LLM_MODEL"] ?? "gpt-4o-mini",
      messages: [
        { role: "system", content: `You are a helpful assistant. What you know about the user:\n${context}` },
        { role: "user", content: message },
      ],
    }),
  });
  const body = (await response.json()) as { choices: { message: { content: string } }[] };
  return body.choices[0]?.message.content ?? "";
}

async function turn(message: string): Promise<void> {
  const { context, memories } = await memBank.memories.synthesizeContext({ user_id: userId, query: message });
  const reply = await answer(message, context, memories.map((memory) => memory.content));
  console.log(`user> ${message}\nassistant> ${reply}`);
  const job = await memBank.memories.processConversation({
    user_id: userId,
    session_id: sessionId,
    user_input: message,
    ai_response: reply,
  });
  const done = await memBank.jobs.waitFor(job.id, { timeoutMs: 120_000 });
  const actions = (done.result?.["actions"] ?? []) as { event: string }[];
  console.log(`(memory: ${done.status}, ${actions.map((action) => action.event).join(", ") || "nothing new"})`);
}

const messages = process.argv.slice(2);
try {
  for (const message of messages.length > 0 ? messages : ["I moved to Lisbon and I work as a nurse.", "Where do I live?"]) {
    await turn(message);
  }
} catch (error) {
  if (!(error instanceof MemBankError)) throw error;
  console.error(`MemBank said ${error.code} (${error.status}): ${error.message} [request ${error.requestId}]`);
  process.exitCode = 1;
}
