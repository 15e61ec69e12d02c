"""LOCOMO retrieval over extracted memories: the conversations go through conversation processing.

    .venv/bin/python -m bench.locomo_extraction                       # the reported numbers (heuristic tier)
    .venv/bin/python -m bench.locomo_extraction --conversations 2     # a quick look at two conversations
    .venv/bin/python -m bench.locomo_extraction --diagnose 15         # plus examples of missed evidence

Extraction mode: a real server (`membank serve`, embedded default, no LLM configured, so the heuristic tier),
one user per conversation. Each session is one conversation of a `POST /api/v1/memories/batch` (every turn a
message of role "user" with `name` = the speaker, `id` = its dia_id and the session date as timestamp). The
sessions of a user are submitted in order, each only once the previous one's batch completed: consolidation
supersedes by arrival, and the two job workers would otherwise run two sessions of a user at once. Several
users are ingested side by side (`--streams`).

Each question of categories 1-4 then searches its user (limit 10). Memories map to the dia_ids in their
`source_refs[].message_id` in rank order (deduplicated; a memory citing two turns adds both); recall@k, hit@k
and MRR are computed over the first k dia_ids exactly as in raw mode (`bench/locomo.py`), so k turns are
judged either way. `recall@10mem` counts every dia_id the 10 memories cite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import (
    Server,
    data,
    latency_summary,
    log,
    machine_info,
    terminate_on_sigterm,
    wait_for_quiet,
    wait_indexed,
    write_result,
)
from bench.extraction_coverage import sessions as dataset_sessions
from bench.locomo import DATASET, LIMIT, Question, aggregate, format_metrics, prepare, score, user_of

POLL_SECONDS = 0.05


# -- dataset ---------------------------------------------------------------------------------------


@dataclass
class Session:
    session_id: str
    timestamp: str
    messages: list[dict[str, Any]]


@dataclass
class Dataset:
    sessions: dict[str, list[Session]]  # user id -> sessions in chronological order
    questions: list[Question]
    texts: dict[tuple[str, str], str]  # (user id, dia_id) -> "speaker: text"
    counts: dict[str, Any] = field(default_factory=dict)


def load(path: Path = DATASET, conversations: int | None = None) -> Dataset:
    """The sessions of each conversation as batch conversations, and the questions of `prepare`."""
    samples = json.loads(path.read_text())[:conversations]
    prepared = prepare(path)
    users = {user_of(i, s.get("sample_id")) for i, s in enumerate(samples)}
    out = Dataset(sessions={}, questions=[q for q in prepared.questions if q.user_id in users], texts={})
    turns = 0
    for index, sample in enumerate(samples):
        user_id = user_of(index, sample.get("sample_id"))
        out.sessions[user_id] = []
        for conversation, ids in dataset_sessions(sample):
            when = conversation.turns[0].timestamp.replace(tzinfo=UTC).isoformat()
            messages = [
                {"role": "user", "content": t.content, "name": t.speaker, "id": dia, "timestamp": when}
                for t, dia in zip(conversation.turns, ids, strict=True)
                if t.content.strip()
            ]
            for t, dia in zip(conversation.turns, ids, strict=True):
                out.texts[(user_id, dia)] = f"{t.speaker}: {t.content}"
            turns += len(messages)
            session_id = (conversation.session_id or "").replace("_", "-")
            out.sessions[user_id].append(Session(session_id, when, messages))
    counts = dict(prepared.counts)
    counts.update(
        conversations=len(samples),
        sessions=sum(len(s) for s in out.sessions.values()),
        turns=turns,
        qa_used=len(out.questions),
        qa_used_by_category=dict(sorted(Counter(str(q.category) for q in out.questions).items())),
    )
    out.counts = counts
    return out


def ranked_dia_ids(memories: list[dict[str, Any]]) -> list[str]:
    """The dia_ids cited by memories in rank order, each once."""
    ids: list[str] = []
    for memory in memories:
        for ref in memory.get("source_refs") or []:
            dia_id = ref.get("message_id")
            if dia_id and dia_id not in ids:
                ids.append(dia_id)
    return ids


# -- ingest ----------------------------------------------------------------------------------------


def _seconds(job: dict[str, Any], end: str, start: str) -> float | None:
    if not job.get(end) or not job.get(start):
        return None
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


async def _ingest_user(
    client: httpx.AsyncClient, user_id: str, sessions: list[Session], jobs: list[dict[str, Any]]
) -> None:
    for session in sessions:
        body = {
            "user_id": user_id,
            "conversations": [
                {
                    "session_id": session.session_id,
                    "messages": session.messages,
                    "timestamp": session.timestamp,
                }
            ],
        }
        batch_id = data(await client.post("/api/v1/memories/batch", json=body))["batch_id"]
        while True:
            batch = data(await client.get(f"/api/v1/batches/{batch_id}"))
            if batch["status"] in ("completed", "completed_with_errors"):
                break
            await asyncio.sleep(POLL_SECONDS)
        for job in batch["jobs"]:
            if job["status"] != "completed":
                raise RuntimeError(f"job {job['id']} of {user_id}/{session.session_id}: {job['status']}")
            jobs.append({**job, "turns": len(session.messages)})


async def ingest(server: Server, dataset: Dataset, streams: int) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = []
    pending = list(dataset.sessions.items())
    t0 = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-API-Key": server.api_key}, timeout=120.0
    ) as client:

        async def stream() -> None:
            while pending:
                user_id, sessions = pending.pop(0)
                await _ingest_user(client, user_id, sessions, jobs)

        await asyncio.gather(*(stream() for _ in range(streams)))
    completed = time.perf_counter() - t0
    with server.client() as sync_client:
        indexed = completed + wait_indexed(sync_client)
    turns = dataset.counts["turns"]
    latency = [s for j in jobs if (s := _seconds(j, "finished_at", "created_at")) is not None]
    run = [s for j in jobs if (s := _seconds(j, "finished_at", "started_at")) is not None]
    run_per_turn = [
        s / j["turns"] for j in jobs if (s := _seconds(j, "finished_at", "started_at")) is not None
    ]
    events: Counter[str] = Counter()
    extractors: Counter[str] = Counter()
    for job in jobs:
        result = job.get("result") or {}
        events.update(result.get("counts") or {})
        extractors[str(result.get("extractor"))] += 1
    return {
        "jobs": len(jobs),
        "streams": streams,
        "completed_s": round(completed, 2),
        "indexed_s": round(indexed, 2),
        "ms_per_turn": round(1000 * completed / turns, 2),
        "turns_per_s": round(turns / completed, 1),
        "job_latency": _ms_summary(latency),
        "job_run": _ms_summary(run),
        "job_run_ms_per_turn": _ms_summary(run_per_turn),
        "events": {e: events.get(e, 0) for e in ("ADD", "UPDATE", "DELETE", "NOOP")},
        "extractors": dict(extractors),
    }


def _ms_summary(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"count": 0}
    ms = np.asarray(seconds) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "count": len(seconds),
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def storage(server: Server, dataset: Dataset) -> dict[str, Any]:
    """Memory rows per user (every version, superseded and deleted included) and the active ones."""
    totals: Counter[str] = Counter()
    with server.client() as client:
        for user_id in dataset.sessions:
            stats = data(client.get(f"/api/v1/users/{user_id}/memories/stats"))
            totals.update({k: int(stats[k]) for k in ("total", "active", "superseded", "deleted")})
    turns = dataset.counts["turns"]
    return {
        **dict(totals),
        "per_turn": round(totals["total"] / turns, 4),
        "active_per_turn": round(totals["active"] / turns, 4),
    }


# -- search ----------------------------------------------------------------------------------------


async def search_all(
    server: Server, questions: list[Question], limit: int = LIMIT, concurrency: int = 4
) -> tuple[list[list[dict[str, Any]]], list[float], float]:
    """Each question's returned memories (in rank order), the latencies and the elapsed time."""
    found: list[list[dict[str, Any]]] = [[] for _ in questions]
    latencies: list[float] = []
    position = 0
    t0 = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-API-Key": server.api_key}, timeout=60.0
    ) as client:

        async def worker() -> None:
            nonlocal position
            while position < len(questions):
                i = position
                position += 1
                q = questions[i]
                s0 = time.perf_counter()
                response = await client.post(
                    "/api/v1/memories/search",
                    json={"user_id": q.user_id, "query": q.question, "limit": limit},
                )
                latencies.append(time.perf_counter() - s0)
                found[i] = data(response)["memories"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return found, latencies, time.perf_counter() - t0


def score_extraction(evidence: list[str], memories: list[dict[str, Any]]) -> dict[str, float]:
    metrics = score(evidence, ranked_dia_ids(memories))
    cited = set(ranked_dia_ids(memories[:LIMIT]))
    metrics["recall@10mem"] = len(set(evidence) & cited) / len(set(evidence))
    return metrics


# -- why evidence is missed ------------------------------------------------------------------------


def all_memories(client: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    """Every memory row of a user, superseded and deleted ones included."""
    out: list[dict[str, Any]] = []
    while True:
        page = data(
            client.get(
                f"/api/v1/users/{user_id}/memories",
                params={"limit": 100, "offset": len(out), "include_invalid": "true", "sort_order": "asc"},
            )
        )
        out += page["memories"]
        if not page["memories"] or len(out) >= page["total"]:
            return out


def _is_active(memory: dict[str, Any]) -> bool:
    return not memory.get("deleted_at") and not memory.get("superseded_by") and not memory.get("valid_to")


def diagnose(
    server: Server, dataset: Dataset, found: list[list[dict[str, Any]]], examples: int
) -> dict[str, Any]:
    """Classify every evidence turn missed in the top 10: not extracted, extracted but no longer active,
    active but ranked low (rank among 100 results) or cut by the 10-turn limit."""
    cited_by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    with server.client() as client:
        for user_id in dataset.sessions:
            for memory in all_memories(client, user_id):
                for ref in memory.get("source_refs") or []:
                    if ref.get("message_id"):
                        cited_by[(user_id, ref["message_id"])].append(memory)
    missed = [
        (i, dia)
        for i, q in enumerate(dataset.questions)
        for dia in q.evidence
        if dia not in ranked_dia_ids(found[i])[:LIMIT]
    ]
    wide_questions = sorted({i for i, _ in missed})
    wide, _, _ = asyncio.run(search_all(server, [dataset.questions[i] for i in wide_questions], limit=100))
    wide_of = dict(zip(wide_questions, wide, strict=True))
    reasons: Counter[str] = Counter()
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    ranks: list[int] = []
    samples: list[dict[str, Any]] = []
    for i, dia in missed:
        q = dataset.questions[i]
        rows = cited_by.get((q.user_id, dia), [])
        rank = next(
            (r for r, m in enumerate(wide_of[i], 1) if dia in ranked_dia_ids([m])),
            None,
        )
        if not rows:
            reason = "not extracted"
        elif not any(_is_active(m) for m in rows):
            reason = "extracted, no longer active"
        elif rank is None:
            reason = "active, not in top 100"
        elif rank <= LIMIT:
            reason = "in the top 10 memories, past the 10th turn"
        else:
            reason = "active, ranked 11-100"
            ranks.append(rank)
        reasons[reason] += 1
        by_category[str(q.category)][reason] += 1
        samples.append(
            {
                "category": q.category,
                "question": q.question,
                "evidence": dia,
                "turn": dataset.texts.get((q.user_id, dia)),
                "reason": reason,
                "rank": rank,
                "memories": [m["content"] for m in rows][:3],
                "top": [m["content"] for m in found[i][:3]],
            }
        )
    rng = np.random.default_rng(7)
    picked = [samples[int(k)] for k in rng.permutation(len(samples))[:examples]] if samples else []
    evidence = sum(len(q.evidence) for q in dataset.questions)
    return {
        "evidence_total": evidence,
        "missed": len(missed),
        "reasons": dict(reasons.most_common()),
        "reasons_by_category": {k: dict(v.most_common()) for k, v in sorted(by_category.items())},
        "rank_11_100": _rank_summary(ranks),
        "examples": picked,
    }


def _rank_summary(ranks: list[int]) -> dict[str, Any]:
    if not ranks:
        return {"count": 0}
    return {"count": len(ranks), "median": float(np.median(ranks)), "within_20": sum(r <= 20 for r in ranks)}


# -- entry point -----------------------------------------------------------------------------------


def run(
    *,
    conversations: int | None = None,
    streams: int = 4,
    examples: int = 0,
    quiet_wait: float = 0.0,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The reported numbers: ingest by conversation processing, then search each question."""
    dataset = load(conversations=conversations)
    log(f"dataset: {json.dumps(dataset.counts)}")
    background = wait_for_quiet(max_wait=quiet_wait)
    machine = machine_info()
    with terminate_on_sigterm(), Server(env=env) as server:
        log(f"server ready in {server.cold_start_seconds:.2f} s; processing {dataset.counts['turns']} turns")
        ingested = asyncio.run(ingest(server, dataset, streams))
        log(f"ingested: {json.dumps(ingested)}")
        stored = storage(server, dataset)
        log(f"stored: {json.dumps(stored)}")
        found, latencies, elapsed = asyncio.run(search_all(server, dataset.questions))
        rows = [
            (q.category, score_extraction(q.evidence, memories))
            for q, memories in zip(dataset.questions, found, strict=True)
        ]
        diagnosis = diagnose(server, dataset, found, examples)
    return {
        "mode": "extraction",
        "tier": "heuristic",
        "machine": machine,
        "background_cpu_pct_before": background,
        "counts": dataset.counts,
        "ingest": ingested,
        "storage": stored,
        "search": latency_summary(latencies, elapsed),
        "metrics": aggregate(rows),
        "diagnosis": diagnosis,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, help="only the first N conversations")
    parser.add_argument("--streams", type=int, default=4, help="users ingested side by side")
    parser.add_argument("--diagnose", type=int, default=0, help="print this many examples of missed evidence")
    parser.add_argument("--output", help="result name under bench/results (default locomo-extraction)")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="wait up to N s for other processes to go idle"
    )
    args = parser.parse_args()
    result = run(
        conversations=args.conversations,
        streams=args.streams,
        examples=args.diagnose,
        quiet_wait=args.wait_quiet,
    )
    command = "python -m bench.locomo_extraction"
    if args.conversations:
        command += f" --conversations {args.conversations}"
    result["command"] = command
    print(format_metrics(result["metrics"]))
    m = result["metrics"]["overall"]
    print(f"R@1 {m['recall@1']:.3f}  R@10 over the 10 memories' turns {m['recall@10mem']:.3f}")
    print(f"storage: {json.dumps(result['storage'])}")
    print(f"ingest: {json.dumps(result['ingest'])}")
    print(f"search: {json.dumps(result['search'])}")
    diagnosis = result["diagnosis"]
    print(
        f"missed evidence: {diagnosis['missed']} of {diagnosis['evidence_total']}: {json.dumps(diagnosis['reasons'])}"
    )
    print(
        f"by category: {json.dumps(diagnosis['reasons_by_category'])}; ranks: {json.dumps(diagnosis['rank_11_100'])}"
    )
    for example in diagnosis["examples"]:
        print(json.dumps(example, ensure_ascii=False))
    default = "locomo-extraction" if not args.conversations else f"locomo-extraction-{args.conversations}"
    log(f"wrote {write_result(args.output or default, result)}")


if __name__ == "__main__":
    main()
