"""Job latency of `process-conversation` for single exchanges (heuristic tier, embedded default).

    .venv/bin/python -m bench.conversation_latency                  # 300 exchanges at c=1, then at c=4
    .venv/bin/python -m bench.conversation_latency --requests 100 --concurrency 1

Each request is one exchange (`user_input` and usually an `ai_response`, the user's last few messages as
`history`) sent with `wait=true`. The exchanges are generated from templates and word lists (seeded): facts,
stated preferences, updates of earlier facts, retractions, small talk and questions to the assistant, spread
over several users; a user's exchanges are sent in order by one client task. Job latency is the job's
`finished_at - created_at` (queued to done, on the server's clock), run time `finished_at - started_at`;
the round trip is measured at the client and includes the server's polling of the job for `wait=true`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from bench.common import (
    Server,
    data,
    latency_summary,
    log,
    machine_busy_pct,
    machine_cpu_ticks,
    machine_info,
    terminate_on_sigterm,
    wait_for_quiet,
    write_result,
)
from bench.texts import (
    ALLERGENS,
    CITIES,
    DRINKS,
    FOODS,
    HOBBIES,
    INSTRUMENTS,
    JOBS,
    MONTHS,
    NAMES,
    PET_NAMES,
    PETS,
    RELATIONS,
    WEEKDAYS,
)

TARGET_P50_MS = 50.0
WARMUP = 10
HISTORY_MESSAGES = 4

FACTS = (
    "I work as {job} in {city}.",
    "My {relation} just moved to {city}, so I'll visit more often.",
    "I adopted a {pet} named {pet_name} last {month}.",
    "I'm allergic to {allergen}, so please keep that in mind.",
    "I've been learning to play the {instrument} for a few months now.",
    "Last {weekday} I tried {hobby} with my {relation} and it was great fun.",
    "I'm planning a trip to {city} in {month}.",
    "My {relation}'s birthday is in {month}; I want to get them something nice.",
)
PREFERENCES = (
    "I love {food}.",
    "I really prefer {drink} in the morning.",
    "I can't stand {food}, honestly.",
    "My favorite hobby is {hobby}.",
)
UPDATES = (
    "I moved to {city} last month.",
    "I work as {job} now, I changed jobs in {month}.",
    "Actually I don't drink {drink} anymore.",
)
RETRACTIONS = ("Please forget that I love {food}.", "Forget what I said about {city}.")
SMALL_TALK = (
    "Hi! How are you today?",
    "Thanks, that was really helpful!",
    "Haha, good one.",
    "Good morning!",
    "Ok, sounds good.",
)
QUESTIONS = (
    "What's a good recipe for {food}?",
    "Can you recommend some gear for {hobby}?",
    "What's the weather usually like in {city} in {month}?",
    "How do I get better at the {instrument}?",
)
KINDS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("fact", FACTS, 0.35),
    ("preference", PREFERENCES, 0.15),
    ("update", UPDATES, 0.10),
    ("retraction", RETRACTIONS, 0.05),
    ("small talk", SMALL_TALK, 0.15),
    ("question", QUESTIONS, 0.20),
)
ANSWERS = (
    "That sounds great! Tell me more about it whenever you like.",
    "Noted. Is there anything you'd like me to help you plan around that?",
    "Sure! A simple way to start is to keep it short and practise a little every day. Want a step-by-step plan?",
    "Good to know, thanks for telling me.",
    "Here is an idea: start with the basics, then add one new thing each week so it stays fun.",
)
_SOURCES: dict[str, tuple[str, ...]] = {
    "job": JOBS,
    "city": CITIES,
    "relation": RELATIONS,
    "pet": PETS,
    "pet_name": PET_NAMES,
    "month": MONTHS,
    "allergen": ALLERGENS,
    "instrument": INSTRUMENTS,
    "weekday": WEEKDAYS,
    "hobby": HOBBIES,
    "food": FOODS,
    "drink": DRINKS,
}


def exchanges(count: int, users: list[str], seed: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    """(user id, kind, request body) in order; each body carries the user's last messages as history."""
    rng = random.Random(seed)
    history: dict[str, list[dict[str, str]]] = {u: [] for u in users}
    loved: dict[str, list[str]] = {u: [] for u in users}
    weights = [w for _, _, w in KINDS]
    out = []
    for i in range(count):
        user = users[i % len(users)]
        kind, templates, _ = rng.choices(KINDS, weights)[0]
        text = rng.choice(templates).format(**{k: rng.choice(v) for k, v in _SOURCES.items()})
        if kind == "retraction" and loved[user]:
            text = f"Please forget that I love {rng.choice(loved[user])}."  # something this user said
        elif text.startswith("I love "):
            loved[user].append(text.removeprefix("I love ").rstrip("."))
        body: dict[str, Any] = {
            "user_id": user,
            "session_id": f"{user}-s1",
            "user_input": text,
            "history": list(history[user][-HISTORY_MESSAGES:]),
            "user_name": NAMES[users.index(user) % len(NAMES)],
        }
        if rng.random() < 0.8:
            body["ai_response"] = rng.choice(ANSWERS)
        history[user].append({"role": "user", "content": text})
        if "ai_response" in body:
            history[user].append({"role": "assistant", "content": body["ai_response"]})
        out.append((user, kind, body))
    return out


def _seconds(job: dict[str, Any], end: str, start: str) -> float:
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


async def run_level(
    server: Server, items: list[tuple[str, str, dict[str, Any]]], concurrency: int
) -> dict[str, Any]:
    """Send every exchange with `wait=true`; users are split over `concurrency` tasks, each in order."""
    lanes: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(concurrency)]
    users = sorted({u for u, _, _ in items})
    lane_of = {u: i % concurrency for i, u in enumerate(users)}
    for user, kind, body in items:
        lanes[lane_of[user]].append((kind, body))
    round_trips: list[float] = []
    latency: list[float] = []
    run: list[float] = []
    events: Counter[str] = Counter()
    by_kind: dict[str, list[float]] = defaultdict(list)
    errors = 0
    cpu_before = server.cpu_seconds()
    machine_before = machine_cpu_ticks()
    t0 = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-API-Key": server.api_key}, timeout=60.0
    ) as client:

        async def lane(bodies: list[tuple[str, dict[str, Any]]]) -> None:
            nonlocal errors
            for kind, body in bodies:
                s0 = time.perf_counter()
                response = await client.post("/api/v1/memories/process-conversation?wait=true", json=body)
                elapsed = time.perf_counter() - s0
                job = data(response)
                if response.status_code != 200 or job["status"] != "completed":
                    errors += 1
                    continue
                round_trips.append(elapsed)
                latency.append(_seconds(job, "finished_at", "created_at"))
                by_kind[kind].append(latency[-1])
                run.append(_seconds(job, "finished_at", "started_at"))
                events.update(job["result"]["counts"])

        await asyncio.gather(*(lane(bodies) for bodies in lanes if bodies))
    elapsed = time.perf_counter() - t0
    server_cpu = 100.0 * (server.cpu_seconds() - cpu_before) / elapsed
    return {
        "concurrency": concurrency,
        "job_latency": latency_summary(latency, elapsed, errors),
        "job_run": latency_summary(run, elapsed, errors),
        "round_trip": latency_summary(round_trips, elapsed, errors),
        "events": dict(events),
        "job_latency_p50_ms_by_kind": {
            kind: round(1000 * float(np.median(values)), 2) for kind, values in sorted(by_kind.items())
        },
        "server_cpu_pct": round(server_cpu, 1),
        "other_cpu_pct": round(
            max(0.0, machine_busy_pct(machine_before, machine_cpu_ticks()) - server_cpu), 1
        ),
    }


def run(
    *, requests: int = 300, levels: tuple[int, ...] = (1, 4), users: int = 8, quiet_wait: float = 0.0
) -> dict[str, Any]:
    background = wait_for_quiet(max_wait=quiet_wait)
    machine = machine_info()
    result: dict[str, Any] = {
        "machine": machine,
        "background_cpu_pct_before": background,
        "settings": {"requests": requests, "users": users, "history_messages": HISTORY_MESSAGES},
        "levels": {},
    }
    with terminate_on_sigterm(), Server() as server:
        log(f"server ready in {server.cold_start_seconds:.2f} s")
        warm = exchanges(WARMUP, ["warmup-user"], seed=99)
        asyncio.run(run_level(server, warm, 1))
        for level in levels:
            ids = [f"latency-c{level}-user-{i:02d}" for i in range(users)]
            items = exchanges(requests, ids, seed=level)
            result["kinds"] = dict(Counter(kind for _, kind, _ in items))
            stats = asyncio.run(run_level(server, items, level))
            log(
                f"c={level}: job latency p50 {stats['job_latency'].get('p50_ms')} ms, p95 "
                f"{stats['job_latency'].get('p95_ms')} ms, round trip p50 {stats['round_trip'].get('p50_ms')} ms"
            )
            result["levels"][str(level)] = stats
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="exchanges per concurrency level")
    parser.add_argument("--concurrency", default="1,4", help="comma-separated concurrency levels")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--output", default="conversation-latency", help="result name under bench/results")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="wait up to N s for other processes to go idle"
    )
    args = parser.parse_args()
    levels = tuple(int(c) for c in args.concurrency.split(","))
    result = run(requests=args.requests, levels=levels, users=args.users, quiet_wait=args.wait_quiet)
    result["command"] = "python -m bench.conversation_latency"
    for level, stats in result["levels"].items():
        print(f"c={level}")
        for key in ("job_latency", "job_run", "round_trip"):
            s = stats[key]
            print(
                f"  {key:<12} p50 {s.get('p50_ms')} ms  p95 {s.get('p95_ms')} ms  p99 {s.get('p99_ms')} ms"
                f"  ({s.get('count')} ok, {s.get('errors')} errors)"
            )
        print(f"  events {stats['events']}  server CPU {stats['server_cpu_pct']} %")
    log(f"wrote {write_result(args.output, result)}")


if __name__ == "__main__":
    main()
