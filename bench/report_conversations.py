"""The conversation-processing parts of docs/benchmarks.md: LOCOMO extraction mode and exchange latency."""

from __future__ import annotations

from typing import Any

Target = tuple[str, str, str, bool | None]


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def targets(extraction_r: dict[str, Any] | None, latency_r: dict[str, Any] | None) -> list[Target]:
    """Rows of the targets table (name, goal, measured, met)."""
    rows: list[Target] = []
    if extraction_r:
        recall = extraction_r["metrics"]["overall"]["recall@10"]
        per_turn = extraction_r["storage"]["per_turn"]
        rows.append(
            (
                "LOCOMO extraction mode (heuristic tier), categories 1-4: recall@10",
                "≥ 0.60",
                f"{recall:.3f}",
                recall >= 0.60,
            )
        )
        rows.append(
            (
                "LOCOMO extraction mode: memories stored per turn (every row, superseded included)",
                "≤ 0.6",
                f"{per_turn:.3f}",
                per_turn <= 0.6,
            )
        )
    if latency_r and "1" in latency_r.get("levels", {}):
        p50 = latency_r["levels"]["1"]["job_latency"].get("p50_ms")
        rows.append(
            (
                "process-conversation (heuristic tier), one exchange, c=1: job latency p50",
                "≤ 50 ms",
                f"{_fmt(p50)} ms",
                None if p50 is None else p50 <= 50,
            )
        )
    return rows


def extraction_section(r: dict[str, Any], raw: dict[str, Any] | None) -> list[str]:
    counts, storage, ingest = r["counts"], r["storage"], r["ingest"]
    out = [
        "## LOCOMO retrieval, extraction mode (`bench/locomo_extraction.py`)",
        "",
        f"Command: `{r.get('command', 'python -m bench.locomo_extraction')}` — run {r['machine']['date']}, "
        f"code {r['machine'].get('git_commit')}, {_fmt(r.get('background_cpu_pct_before'), 0)} % CPU used by other "
        "processes when it started.",
        "",
        f"The {counts['turns']} turns of {counts['conversations']} conversations ({counts['sessions']} sessions) go "
        "through conversation processing with the heuristic tier (no LLM configured): one user per conversation, "
        "each session one conversation of `POST /api/v1/memories/batch`, every turn a message of role `user` with "
        "the speaker as `name`, its dia_id as `id` and the session date as timestamp. A user's sessions are sent "
        "in order, each after the previous one's batch completed (the two job workers would otherwise run two "
        f"sessions of one user at once); {ingest['streams']} users are ingested side by side. Each question of "
        "categories 1-4 then searches its user (`limit` 10, default settings); the returned memories map to the "
        "dia_ids in their `source_refs[].message_id`, in rank order and deduplicated (a memory answering the other "
        "speaker's question cites both turns), and recall@k / hit@k / MRR are computed over the first k dia_ids "
        "exactly as in raw mode, so both modes are judged on k turns. The last column counts every turn the 10 "
        f"memories cite. Questions: {counts['qa_used']} (the same as raw mode).",
        "",
        "| Category | questions | recall@1 | recall@5 | recall@10 | hit@5 | hit@10 | MRR@10 | recall, all turns of the 10 memories |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, m in r["metrics"].items():
        label = f"{key} ({m['name']})" if key != "overall" else "**overall 1-4**"
        out.append(
            f"| {label} | {m['count']} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | "
            f"{m['hit@5']:.3f} | {m['hit@10']:.3f} | {m['mrr']:.3f} | {m['recall@10mem']:.3f} |"
        )
    if raw:
        m = raw["metrics"]["overall"]
        out += [
            "",
            f"Raw mode on the same questions (section above): recall@10 {m['recall@10']:.3f}, MRR {m['mrr']:.3f}, "
            "one memory per turn.",
        ]
    events = ingest["events"]
    latency, run, per_turn = ingest["job_latency"], ingest["job_run"], ingest["job_run_ms_per_turn"]
    out += [
        "",
        "| Ingest | value |",
        "|---|---:|",
        f"| memory rows stored (every version) / active | {storage['total']} / {storage['active']} |",
        f"| memories per turn: stored / active | {storage['per_turn']:.3f} / {storage['active_per_turn']:.3f} |",
        f"| consolidation events ADD / UPDATE / DELETE / NOOP | {events['ADD']} / {events['UPDATE']} / "
        f"{events['DELETE']} / {events['NOOP']} |",
        f"| wall time, all sessions (searchable) | {ingest['completed_s']:.1f} s ({ingest['indexed_s']:.1f} s) |",
        f"| ingest time per turn (wall time / turns) | {ingest['ms_per_turn']:.1f} ms ({ingest['turns_per_s']:.0f} turns/s) |",
        f"| session jobs | {ingest['jobs']} (mean {counts['turns'] // max(1, ingest['jobs'])} turns) |",
        f"| job latency, queued to finished: p50 / p95 | {_fmt(latency.get('p50_ms'), 0)} / "
        f"{_fmt(latency.get('p95_ms'), 0)} ms |",
        f"| job run time, started to finished: p50 / p95 | {_fmt(run.get('p50_ms'), 0)} / {_fmt(run.get('p95_ms'), 0)} ms |",
        f"| job run time per turn: p50 / p95 | {_fmt(per_turn.get('p50_ms'))} / {_fmt(per_turn.get('p95_ms'))} ms |",
        f"| search latency (4 concurrent): p50 / p99 | {_fmt(r['search'].get('p50_ms'))} / "
        f"{_fmt(r['search'].get('p99_ms'))} ms |",
    ]
    out += _diagnosis(r.get("diagnosis"))
    return out


def _diagnosis(d: dict[str, Any] | None) -> list[str]:
    if not d or not d.get("missed"):
        return []
    out = [
        "",
        f"Why evidence is missed: of {d['evidence_total']} (question, evidence turn) pairs, {d['missed']} are not "
        "among the first 10 dia_ids. Each is classified from every memory row of the user (superseded and deleted "
        "included) and a second search with `limit` 100:",
        "",
        "| Reason | pairs | share of missed |",
        "|---|---:|---:|",
    ]
    for reason, n in d["reasons"].items():
        out.append(f"| {reason} | {n} | {100 * n / d['missed']:.0f} % |")
    ranks = d.get("rank_11_100", {})
    if ranks.get("count"):
        out += [
            "",
            f"Of those ranked 11-100, the median rank is {ranks['median']:.0f} and {ranks['within_20']} are within "
            "the top 20.",
        ]
    out += ["", FINDINGS]
    return out


FINDINGS = """\
What the misses say (examples: `python -m bench.locomo_extraction --diagnose 40`):

- **Ranking loses more evidence than extraction does.** Most missed turns were extracted and are still
  active, but rank below 10 (multi-hop questions most of all: they need several turns that each read
  differently from the question). The main cause is that a memory of a reply loses its referent: "What did
  Nate think of the coconut milk ice cream he made?" has to find *"It was rich and creamy - might be Nate's new
  favorite snack!"*, and *"It enabled needed repairs and renovations ..."* never says what "it" is. The memory
  cites the question turn it answers (`source_refs`) but not its words; raw mode stores each turn with the turn
  it replies to for the same reason. Since 58f9fae the heuristic tier carries the question's key terms into
  such a memory (*"It was rich and creamy - might be Nate's new favorite snack! (about coconut milk ice
  cream)"*): recall@10 0.640 -> 0.681, MRR 0.381 -> 0.407, the same number of memories. Pronoun-led facts
  that answer no question take the terms of the other speaker's last sentence, which is noisier.
- **Chatty context dilutes.** An informative turn's weaker sentences ride along ("Glad you have support!
  Unconditional love is so important. Here's a pic of Melanie's family camping at the beach."), which helps
  keyword recall but blurs the embedding of the one sentence that matters.
- **Not extracted** are mostly short answers below the informativeness gate ("She is younger, she is 5 years
  old.", "I've had her for two years now.", "Definitely! And some old friends and teamates from other
  tournaments."), plans phrased as invitations ("Wanna meet up at that cafe next Monday? Let's try fresh
  pastries.") and turns whose fact is in the shared photo, which the heuristic tier does not see. Lowering the
  gate would store more per turn; the 0.6 budget leaves little room.
- **The 10-turn cut:** a memory answering the other speaker's question cites both turns, so the first 10
  dia_ids can end before the 10th memory (the last column counts every turn of the 10 memories).
- Consolidation barely acts on LOCOMO: nearly every fact is a new event, so slots rarely fill twice."""


def latency_section(r: dict[str, Any]) -> list[str]:
    settings = r.get("settings", {})
    out = [
        "## Conversation processing latency (`bench/conversation_latency.py`)",
        "",
        f"Command: `{r.get('command', 'python -m bench.conversation_latency')}` — run {r['machine']['date']}, "
        f"code {r['machine'].get('git_commit')}, {_fmt(r.get('background_cpu_pct_before'), 0)} % CPU used by other "
        "processes when it started.",
        "",
        f"`POST /api/v1/memories/process-conversation?wait=true` with one exchange at a time per client task: "
        f"{settings.get('requests')} exchanges per run over {settings.get('users')} users (each user's exchanges in "
        f"order, the user's last {settings.get('history_messages')} messages as `history`), generated from "
        "templates (seeded): facts, stated preferences, updates, retractions, small talk and questions to the "
        "assistant (mix: "
        + ", ".join(f"{k} {v}" for k, v in r.get("kinds", {}).items())
        + "). The embedded default: SQLite, Qdrant Edge, the ONNX embedder, 2 job workers, heuristic tier. "
        "*Job latency* is the job's `finished_at - created_at` on the server (queued to done: extraction, "
        "embedding, consolidation under the user's lock, session summary); *run* is `finished_at - started_at`; "
        "the *round trip* is measured at the client (POST with `wait=true` to the finished job in the answer).",
        "",
        "| concurrency | exchanges | errors | exchanges/s | job p50 ms | job p95 ms | job p99 ms | run p50 ms | "
        "run p95 ms | round trip p50 ms | round trip p95 ms | round trip p99 ms | server CPU | other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level, s in r.get("levels", {}).items():
        job, run, trip = s["job_latency"], s["job_run"], s["round_trip"]
        out.append(
            f"| c={level} | {job.get('count')} | {job.get('errors', 0)} | {_fmt(trip.get('throughput_rps'))} | "
            f"{_fmt(job.get('p50_ms'))} | {_fmt(job.get('p95_ms'))} | {_fmt(job.get('p99_ms'))} | "
            f"{_fmt(run.get('p50_ms'))} | {_fmt(run.get('p95_ms'))} | {_fmt(trip.get('p50_ms'))} | "
            f"{_fmt(trip.get('p95_ms'))} | {_fmt(trip.get('p99_ms'))} | {_fmt(s.get('server_cpu_pct'), 0)} % | "
            f"{_fmt(s.get('other_cpu_pct'), 0)} % |"
        )
    events = ", ".join(
        f"c={level}: " + " / ".join(str(s["events"].get(e, 0)) for e in ("ADD", "UPDATE", "DELETE", "NOOP"))
        for level, s in r.get("levels", {}).items()
    )
    out += ["", f"Consolidation events ADD / UPDATE / DELETE / NOOP: {events}."]
    kinds = r.get("levels", {}).get("1", {}).get("job_latency_p50_ms_by_kind")
    if kinds:
        out.append(
            "Job latency p50 by kind of exchange, c=1: "
            + ", ".join(f"{kind} {ms:.1f} ms" for kind, ms in kinds.items())
            + "."
        )
    out += ["", LATENCY_NOTES]
    return out


LATENCY_NOTES = """\
An exchange with a fact embeds it (~5-8 ms of the model, longer for longer facts), looks up the user's
memories with the same hash, the same slot and the nearest neighbours, and writes the memory with its outbox
row and version (~2-3 ms); small talk and questions store nothing but still pay the job's bookkeeping (claim,
progress, result, session summary). At c=4 two workers serve four clients, so jobs queue: the gap between
*job* and *run* is the wait for a worker. The round trip adds the HTTP request and the endpoint's wait for
the job: `wait=true` wakes when a job of the server's own workers ends (commit ef1b378; before it, the endpoint
polled after 10 ms, then 15 ms more, and the round trip p50 at c=1 was 29 ms for the same 12 ms jobs)."""
