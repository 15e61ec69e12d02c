"""LOCOMO retrieval: evidence recall of raw dialogue turns for the benchmark's questions.

    .venv/bin/python -m bench.locomo                      # the reported numbers: a real server, over HTTP
    .venv/bin/python -m bench.locomo --inprocess          # services built directly, for quick tuning
    .venv/bin/python -m bench.locomo --inprocess --data-dir /tmp/locomo --rrf-k 20 --candidates 100

Raw mode: every turn of each of the 10 conversations is one memory, content
``"[<session date>] <speaker>: <text>"``, one user per conversation, the turn's dia_id kept in `source_refs`
and `metadata`; ingested by batch import (one job per conversation). Each question of categories 1-4 searches
its conversation's user (limit 10); recall@k is the fraction of the question's evidence turns found in the
top k, hit@k whether any was, MRR the reciprocal rank of the first evidence turn (0 beyond 10).

Evidence ids are normalised: entries split on ";" and whitespace, "D:11:26" -> "D11:26", "D30:05" -> "D30:5";
ids naming no turn of the conversation are dropped and questions left without evidence are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Server,
    latency_summary,
    log,
    machine_info,
    submit_batch,
    terminate_on_sigterm,
    wait_for_quiet,
    wait_indexed,
    wait_jobs,
    write_result,
)

DATASET = Path("/work/shared/bench-data/locomo10.json")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (1, 5, 10)
LIMIT = 10
_SESSION = re.compile(r"session_(\d+)")
_EVIDENCE = re.compile(r"D:?(\d+):(\d+)")


# -- dataset ---------------------------------------------------------------------------------------


@dataclass
class Question:
    conversation: int
    user_id: str
    category: int
    question: str
    evidence: list[str]


@dataclass
class Prepared:
    memories: dict[str, list[dict[str, Any]]]  # user id -> batch items
    questions: list[Question]
    counts: dict[str, Any] = field(default_factory=dict)


def user_of(index: int, sample_id: str | None) -> str:
    return f"locomo-{index:02d}" + (f"-{sample_id}" if sample_id else "")


def turn_content(date: str, turn: dict[str, Any], *, captions: bool) -> str:
    content = f"[{date}] {turn['speaker']}: {turn['text']}"
    if captions and turn.get("blip_caption"):
        content += f" [shares {turn['blip_caption']}]"
    return content


def normalise_evidence(entries: Iterable[Any], present: set[str]) -> tuple[list[str], int]:
    """Distinct evidence ids naming turns in `present`, in order; and how many ids were dropped."""
    ids: list[str] = []
    dropped = 0
    for entry in entries:
        for token in re.split(r"[;,\s]+", str(entry)):
            if not token:
                continue
            match = _EVIDENCE.fullmatch(token)
            dia_id = f"D{int(match[1])}:{int(match[2])}" if match else None
            if dia_id is None or dia_id not in present:
                dropped += 1
                continue
            if dia_id not in ids:
                ids.append(dia_id)
    return ids, dropped


def prepare(
    path: Path = DATASET, *, captions: bool = False, categories: Iterable[int] = (1, 2, 3, 4)
) -> Prepared:
    conversations = json.loads(path.read_text())
    wanted = set(categories)
    prepared = Prepared(memories={}, questions=[])
    counts: dict[str, Any] = {
        "conversations": len(conversations),
        "turns": 0,
        "qa_total": 0,
        "qa_in_categories": 0,
        "qa_used": 0,
        "qa_skipped_no_evidence": 0,
        "evidence_ids_dropped": 0,
        "qa_used_by_category": defaultdict(int),
    }
    for index, sample in enumerate(conversations):
        conversation = sample["conversation"]
        user_id = user_of(index, sample.get("sample_id"))
        items: list[dict[str, Any]] = []
        sessions = sorted(
            (int(m[1]), key) for key in conversation if (m := _SESSION.fullmatch(key)) is not None
        )
        for number, key in sessions:
            date = conversation.get(f"{key}_date_time", "")
            for turn in conversation[key]:
                dia_id = _normalise_turn_id(turn["dia_id"])
                items.append(
                    {
                        "user_id": user_id,
                        "content": turn_content(date, turn, captions=captions),
                        "memory_type": "episodic",
                        "session_id": f"session-{number}",
                        "source_refs": [{"dia_id": dia_id}],
                        "metadata": {
                            "dia_id": dia_id,
                            "session": number,
                            "session_date": date,
                            "speaker": turn["speaker"],
                        },
                    }
                )
        prepared.memories[user_id] = items
        counts["turns"] += len(items)
        present = {item["source_refs"][0]["dia_id"] for item in items}
        for qa in sample["qa"]:
            counts["qa_total"] += 1
            category = int(qa.get("category", 0))
            if category not in wanted:
                continue
            counts["qa_in_categories"] += 1
            evidence, dropped = normalise_evidence(qa.get("evidence", []), present)
            counts["evidence_ids_dropped"] += dropped
            if not evidence:
                counts["qa_skipped_no_evidence"] += 1
                continue
            prepared.questions.append(Question(index, user_id, category, str(qa["question"]), evidence))
            counts["qa_used"] += 1
            counts["qa_used_by_category"][category] += 1
    counts["qa_used_by_category"] = {str(k): v for k, v in sorted(counts["qa_used_by_category"].items())}
    prepared.counts = counts
    return prepared


def _normalise_turn_id(raw: str) -> str:
    match = _EVIDENCE.fullmatch(raw.strip())
    return f"D{int(match[1])}:{int(match[2])}" if match else raw.strip()


# -- metrics ---------------------------------------------------------------------------------------


def score(evidence: list[str], ranked: list[str]) -> dict[str, float]:
    wanted = set(evidence)
    metrics: dict[str, float] = {}
    for k in KS:
        found = wanted & set(ranked[:k])
        metrics[f"recall@{k}"] = len(found) / len(wanted)
        metrics[f"hit@{k}"] = 1.0 if found else 0.0
    first = next((rank for rank, dia_id in enumerate(ranked[:LIMIT], 1) if dia_id in wanted), None)
    metrics["mrr"] = 1.0 / first if first else 0.0
    return metrics


def aggregate(rows: list[tuple[int, dict[str, float]]]) -> dict[str, Any]:
    by_category: dict[str, list[dict[str, float]]] = defaultdict(list)
    for category, metrics in rows:
        by_category[str(category)].append(metrics)
        by_category["overall"].append(metrics)
    out: dict[str, Any] = {}
    for name in [*(str(c) for c in sorted({c for c, _ in rows})), "overall"]:
        items = by_category[name]
        out[name] = {"count": len(items), "name": CATEGORIES.get(int(name), name) if name.isdigit() else name}
        for key in items[0]:
            out[name][key] = round(sum(m[key] for m in items) / len(items), 4)
    return out


def ranked_dia_ids(memories: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for memory in memories:
        refs = memory.get("source_refs") or []
        dia_id = refs[0].get("dia_id") if refs else (memory.get("metadata") or {}).get("dia_id")
        if dia_id and dia_id not in ids:
            ids.append(dia_id)
    return ids


# -- HTTP path -------------------------------------------------------------------------------------


def ingest_http(server: Server, prepared: Prepared) -> dict[str, Any]:
    t0 = time.perf_counter()
    with server.client(timeout=120.0) as client:
        job_ids = [submit_batch(client, items) for items in prepared.memories.values()]
        completed = max(wait_jobs(client, job_ids).values())
        indexed = completed + wait_indexed(client)
    total = sum(len(v) for v in prepared.memories.values())
    return {
        "memories": total,
        "jobs": len(job_ids),
        "completed_s": round(completed - t0, 2),
        "indexed_s": round(indexed - t0, 2),
        "memories_per_s": round(total / (completed - t0), 1),
    }


async def evaluate_http(
    server: Server, questions: list[Question], concurrency: int = 4
) -> tuple[list[Any], list[float]]:
    rows: list[tuple[int, dict[str, float]]] = [(q.category, {}) for q in questions]
    latencies: list[float] = []
    position = 0
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-API-Key": server.api_key}, timeout=60.0
    ) as client:

        async def worker() -> None:
            nonlocal position
            while position < len(questions):
                i = position
                position += 1
                q = questions[i]
                t0 = time.perf_counter()
                response = await client.post(
                    "/api/v1/memories/search",
                    json={"user_id": q.user_id, "query": q.question, "limit": LIMIT},
                )
                latencies.append(time.perf_counter() - t0)
                body = response.json()
                if not body.get("success"):
                    raise RuntimeError(f"search failed: {response.status_code} {body.get('error')}")
                rows[i] = (q.category, score(q.evidence, ranked_dia_ids(body["data"]["memories"])))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return rows, latencies


def run_http(prepared: Prepared, env: dict[str, str] | None = None) -> dict[str, Any]:
    with terminate_on_sigterm(), Server(env=env) as server:
        log(f"server ready in {server.cold_start_seconds:.2f} s; ingesting {prepared.counts['turns']} turns")
        ingest = ingest_http(server, prepared)
        log(f"ingested: {ingest}")
        t0 = time.perf_counter()
        rows, latencies = asyncio.run(evaluate_http(server, prepared.questions))
        elapsed = time.perf_counter() - t0
    return {
        "mode": "http",
        "ingest": ingest,
        "search": latency_summary(latencies, elapsed),
        "metrics": aggregate(rows),
    }


# -- in-process path (tuning) ----------------------------------------------------------------------


async def run_inprocess(prepared: Prepared, options: argparse.Namespace) -> dict[str, Any]:
    from membank.auth.keys import issue_key
    from membank.bootstrap import build_container
    from membank.config import Settings
    from membank.memories.schemas import MemoryIn
    from membank.memories.service import new_memory
    from membank.search.schemas import SearchIn
    from membank.search.scoring import ScoringWeights

    data_dir = (
        Path(options.data_dir) if options.data_dir else Path(tempfile.mkdtemp(prefix="membank-locomo-"))
    )
    marker = data_dir / "locomo-ingested.json"
    fingerprint = {"turns": prepared.counts["turns"], "captions": options.captions}
    reuse = marker.exists() and json.loads(marker.read_text()).get("fingerprint") == fingerprint
    if options.data_dir and not reuse and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {"data_dir": data_dir, "log_level": "WARNING", "run_workers": False}
    if options.candidates:
        overrides["search_candidates"] = options.candidates
    settings = Settings(**overrides)
    container = build_container(settings)
    try:
        await container.start()
        if reuse:
            plaintext = json.loads(marker.read_text())["key"]
        else:
            plaintext = issue_key(container.store.keys, tenant_name="default", name="locomo").plaintext
        principal = await container.auth.authenticate(plaintext)
        ingest: dict[str, Any] = {"reused": reuse}
        if not reuse:
            t0 = time.perf_counter()
            for items in prepared.memories.values():
                memories = [new_memory(principal, MemoryIn.model_validate(item)) for item in items]
                vectors = await container.embedder.embed([m.content for m in memories])
                await asyncio.to_thread(
                    container.store.memories.insert,
                    memories,
                    vectors.tolist(),
                    container.embedder.model_id,
                    actor=principal.subject,
                )
            assert container.index_sync is not None
            await asyncio.to_thread(container.index_sync.apply_due)
            ingest["seconds"] = round(time.perf_counter() - t0, 2)
            marker.write_text(json.dumps({"fingerprint": fingerprint, "key": plaintext}))
        assert container.search is not None
        defaults = container.search.weights
        ks = (
            [int(k) for k in options.sweep_rrf_k.split(",")]
            if options.sweep_rrf_k
            else [options.rrf_k or None]
        )
        runs = []
        for k in ks:
            container.search.weights = ScoringWeights(
                rrf_k=k or defaults.rrf_k,
                dense_weight=_pick(options.dense_weight, defaults.dense_weight),
                keyword_weight=_pick(options.keyword_weight, defaults.keyword_weight),
                recency_weight=_pick(options.recency_weight, defaults.recency_weight),
                importance_weight=_pick(options.importance_weight, defaults.importance_weight),
                recency_half_life_days=defaults.recency_half_life_days,
            )
            rows: list[tuple[int, dict[str, float]]] = []
            latencies: list[float] = []
            t0 = time.perf_counter()
            for q in prepared.questions:
                s0 = time.perf_counter()
                hits, _ = await container.search.search(
                    principal, SearchIn(user_id=q.user_id, query=q.question, limit=LIMIT)
                )
                latencies.append(time.perf_counter() - s0)
                ranked = ranked_dia_ids(
                    [{"source_refs": h.memory.source_refs, "metadata": h.memory.metadata} for h in hits]
                )
                rows.append((q.category, score(q.evidence, ranked)))
            weights = container.search.weights
            runs.append(
                {
                    "weights": {
                        "rrf_k": weights.rrf_k,
                        "dense_weight": weights.dense_weight,
                        "keyword_weight": weights.keyword_weight,
                        "recency_weight": weights.recency_weight,
                        "importance_weight": weights.importance_weight,
                        "candidates": settings.search_candidates,
                    },
                    "search": latency_summary(latencies, time.perf_counter() - t0),
                    "metrics": aggregate(rows),
                }
            )
            if len(ks) > 1:
                log(f"rrf_k={weights.rrf_k}: {_overall(runs[-1]['metrics'])}")
    finally:
        await container.aclose()
        if not options.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    result: dict[str, Any] = {"mode": "inprocess", "ingest": ingest, **runs[-1]}
    if len(runs) > 1:
        result["sweep"] = runs
    return result


def _overall(metrics: dict[str, Any]) -> str:
    m = metrics["overall"]
    return f"recall@5 {m['recall@5']:.3f}, recall@10 {m['recall@10']:.3f}, hit@10 {m['hit@10']:.3f}, MRR {m['mrr']:.3f}"


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value


# -- entry point -----------------------------------------------------------------------------------


def run(*, captions: bool = False, quiet_wait: float = 0.0) -> dict[str, Any]:
    """The reported numbers (HTTP path)."""
    prepared = prepare(captions=captions)
    background = wait_for_quiet(max_wait=quiet_wait)
    machine = machine_info()
    result = run_http(prepared)
    result["machine"] = machine
    result["background_cpu_pct_before"] = background
    result["counts"] = prepared.counts
    result["captions"] = captions
    return result


def sweep(rrf_ks: Iterable[int], *, captions: bool = False) -> dict[str, Any]:
    """In-process runs over RRF k values (fast tuning; the reported numbers come from `run`)."""
    prepared = prepare(captions=captions)
    options = argparse.Namespace(
        data_dir=None,
        captions=captions,
        candidates=None,
        rrf_k=None,
        sweep_rrf_k=",".join(str(k) for k in rrf_ks),
        dense_weight=None,
        keyword_weight=None,
        recency_weight=None,
        importance_weight=None,
    )
    machine = machine_info()
    result = asyncio.run(run_inprocess(prepared, options))
    result["machine"] = machine
    result["counts"] = prepared.counts
    result["captions"] = captions
    return result


def format_metrics(metrics: dict[str, Any]) -> str:
    lines = [f"{'category':<16}{'n':>6}{'R@5':>8}{'R@10':>8}{'hit@5':>8}{'hit@10':>8}{'MRR':>8}"]
    for key, m in metrics.items():
        label = f"{key} {m['name']}" if key != "overall" else "overall"
        lines.append(
            f"{label:<16}{m['count']:>6}{m['recall@5']:>8.3f}{m['recall@10']:>8.3f}"
            f"{m['hit@5']:>8.3f}{m['hit@10']:>8.3f}{m['mrr']:>8.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inprocess", action="store_true", help="no server: call the services directly")
    parser.add_argument(
        "--captions", action="store_true", help="append image captions to turns that have one"
    )
    parser.add_argument("--data-dir", help="(--inprocess) keep the ingested data here and reuse it next time")
    parser.add_argument("--candidates", type=int, help="candidates per list (MEMBANK_SEARCH_CANDIDATES)")
    parser.add_argument("--rrf-k", type=int, help="RRF k (MEMBANK_RRF_K)")
    parser.add_argument(
        "--sweep-rrf-k", help="(--inprocess only) comma-separated RRF k values to try in turn"
    )
    parser.add_argument("--dense-weight", type=float, help="scoring weight (MEMBANK_DENSE_WEIGHT)")
    parser.add_argument("--keyword-weight", type=float, help="scoring weight (MEMBANK_KEYWORD_WEIGHT)")
    parser.add_argument("--recency-weight", type=float, help="scoring weight (MEMBANK_RECENCY_WEIGHT)")
    parser.add_argument("--importance-weight", type=float, help="scoring weight (MEMBANK_IMPORTANCE_WEIGHT)")
    parser.add_argument(
        "--output", help="result name under bench/results (default locomo or locomo-inprocess)"
    )
    args = parser.parse_args()
    prepared = prepare(captions=args.captions)
    log(f"dataset: {json.dumps(prepared.counts)}")
    background = wait_for_quiet()
    machine = machine_info()
    if args.inprocess:
        result = asyncio.run(run_inprocess(prepared, args))
    else:
        env = {
            f"MEMBANK_{name.upper()}": str(value)
            for name in (
                "search_candidates",
                "rrf_k",
                "dense_weight",
                "keyword_weight",
                "recency_weight",
                "importance_weight",
            )
            if (value := getattr(args, name.removeprefix("search_"))) is not None
        }
        result = run_http(prepared, env)
        result["settings_env"] = env
    result["counts"] = prepared.counts
    result["captions"] = args.captions
    result["background_cpu_pct_before"] = background
    result["machine"] = machine
    result["command"] = "python -m bench.locomo" + (" --inprocess" if args.inprocess else "")
    print(format_metrics(result["metrics"]))
    print(f"search: {json.dumps(result['search'])}")
    name = args.output or ("locomo-inprocess" if args.inprocess else "locomo")
    log(f"wrote {write_result(name, result)}")


if __name__ == "__main__":
    main()
