"""Memories per turn when an assistant answers at length, under every way a client labels its turns.

    .venv/bin/python -m bench.assistant_extraction              # 6 sessions of 16 turns per labelling
    .venv/bin/python -m bench.assistant_extraction --sessions 2

The corpus: a user who says something about themselves in every other message and otherwise asks about
Python; an assistant that answers with CPython's own help texts (`pydoc_data.topics`, cut at a sentence near
ANSWER_CHARS, several hundred tokens each) and, once a session, restates a fact about the user ("You
mentioned ..."). Each labelling is one user of a real server (`membank serve`, heuristic tier), ingested as
batch conversations: role "assistant"; role "user" named "assistant" or "AI"; named as the request's
`agent_id`; and unlabelled (every turn role "user" without a name). Reported per labelling: memories stored
per turn (every row) and how many of the user's facts are in some memory.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pydoc_data.topics import topics
from typing import Any

import httpx

from bench.common import Server, data, log, terminate_on_sigterm, wait_indexed, write_result
from bench.locomo_extraction import all_memories

ANSWER_CHARS = 2000
TURNS_PER_SESSION = 16
WHEN = "2024-05-08T10:00:00+00:00"

# What the user says about themselves, and a word each memory of it must contain.
USER_FACTS = [
    ("I moved to Porto last spring.", "Porto"),
    ("My daughter Ana started school in September.", "Ana"),
    ("I'm allergic to peanuts.", "peanuts"),
    ("I work at Siemens as a test engineer.", "Siemens"),
    ("I play the cello in a community orchestra.", "cello"),
    ("My partner Joana is a nurse at the city hospital.", "Joana"),
    ("I'm training for the Lisbon half marathon in October.", "marathon"),
    ("We adopted a beagle called Biscuit two weeks ago.", "Biscuit"),
    ("I have been learning Japanese for three years.", "Japanese"),
    ("My favorite food is grilled sardines.", "sardines"),
    ("I grew up in a small village near Braga.", "Braga"),
    ("I'm vegetarian since 2019.", "vegetarian"),
]
RESTATED = [
    "You mentioned you moved to Porto last spring, so here is a local angle as well.",
    "Since you are allergic to peanuts, I left the snack example out.",
]
LABELLINGS = ("role-assistant", "name-assistant", "name-ai", "agent-id", "unlabelled")
AGENT = "aria"


@dataclass(frozen=True)
class Labelling:
    name: str
    agent_id: str | None = None

    def message(self, author: str, content: str, dia: str) -> dict[str, Any]:
        message: dict[str, Any] = {"content": content, "id": dia, "timestamp": WHEN, "role": "user"}
        if author == "assistant":
            if self.name == "role-assistant":
                message["role"] = "assistant"
            elif self.name != "unlabelled":
                message["name"] = {"name-assistant": "assistant", "name-ai": "AI"}.get(self.name, "Aria")
        return message


def answers() -> list[tuple[str, str]]:
    """(topic, help text cut at a sentence end near ANSWER_CHARS) for the long help topics."""
    out = []
    for topic, text in sorted(topics.items()):
        flat = " ".join(text.split())
        if len(flat) < ANSWER_CHARS:
            continue
        cut = flat.rfind(". ", 0, ANSWER_CHARS)
        out.append((topic, flat[: cut + 1]))
    return out


def sessions(count: int, seed: int = 7) -> Iterator[list[tuple[str, str]]]:
    """`count` sessions of (author, text): a user fact or question, then the assistant's long answer."""
    rng = random.Random(seed)
    pool = answers()
    facts = iter(USER_FACTS * count)
    for number in range(count):
        turns: list[tuple[str, str]] = []
        for exchange in range(TURNS_PER_SESSION // 2):
            topic, answer = rng.choice(pool)
            if exchange % 2 == 0:
                turns.append(("user", f"{next(facts)[0]} Anyway, how does {topic} work in Python?"))
            else:
                turns.append(("user", f"Can you explain {topic} in Python?"))
            if exchange == 1:
                answer = f"{RESTATED[number % len(RESTATED)]} {answer}"
            turns.append(("assistant", answer))
        yield turns


def ingest(server: Server, labelling: Labelling, count: int) -> dict[str, Any]:
    user_id = f"assist-{labelling.name}"
    turns = 0
    with server.client() as client:
        for number, session in enumerate(sessions(count)):
            messages = [labelling.message(a, t, f"S{number}:{i}") for i, (a, t) in enumerate(session)]
            turns += len(messages)
            body: dict[str, Any] = {
                "user_id": user_id,
                "conversations": [{"session_id": f"s{number}", "messages": messages}],
            }
            if labelling.agent_id:
                body["agent_id"] = labelling.agent_id
            batch_id = data(client.post("/api/v1/memories/batch", json=body))["batch_id"]
            _wait_batch(client, batch_id)
        wait_indexed(client)
        stats = data(client.get(f"/api/v1/users/{user_id}/memories/stats"))
        memories = all_memories(client, user_id)
    said = USER_FACTS[: count * TURNS_PER_SESSION // 4]  # every other exchange opens with one
    kept = sum(any(re.search(word, m["content"], re.I) for m in memories) for _, word in said)
    from_assistant = sum(_cites_assistant(m) for m in memories)
    return {
        "turns": turns,
        "stored": int(stats["total"]),
        "per_turn": round(int(stats["total"]) / turns, 4),
        "user_facts_kept": f"{kept}/{len({w for _, w in said})}",
        "memories_citing_only_assistant_turns": from_assistant,
    }


def _cites_assistant(memory: dict[str, Any]) -> bool:
    refs = [r.get("message_id") or "" for r in memory.get("source_refs") or []]
    return bool(refs) and all(int(r.split(":")[1]) % 2 == 1 for r in refs if ":" in r)


def _wait_batch(client: httpx.Client, batch_id: str) -> None:
    while data(client.get(f"/api/v1/batches/{batch_id}"))["status"] not in (
        "completed",
        "completed_with_errors",
    ):
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=6, help="sessions per labelling")
    parser.add_argument("--output", default="assistant-extraction", help="result name under bench/results")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with terminate_on_sigterm(), Server() as server:
        for name in LABELLINGS:
            labelling = Labelling(name, AGENT if name == "agent-id" else None)
            results[name] = ingest(server, labelling, args.sessions)
            log(f"{name}: {json.dumps(results[name])}")
    command = f"python -m bench.assistant_extraction --sessions {args.sessions}"
    log(f"wrote {write_result(args.output, {'command': command, 'labellings': results})}")


if __name__ == "__main__":
    main()
