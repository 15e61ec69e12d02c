"""Long memories (issue 14): retrieval at session level when memories are whole sessions or long documents.

    .venv/bin/python -m bench.long_memory --inprocess                                # LOCOMO, every mode
    .venv/bin/python -m bench.long_memory --inprocess --dataset haystack --mode session
    .venv/bin/python -m bench.long_memory --inprocess --conversations 3 --mode mixed   # a smoke run

Data sets, both LOCOMO-shaped (one user per conversation, sessions of dated turns, questions with evidence
turns): LOCOMO itself (bench/locomo.py's DATASET, categories 1-4) and the synthetic long-haystack corpus of
bench/haystack.py (`--dataset haystack`, its docstring says how it is built and what it cannot show).

Modes (how a conversation becomes memories; every mode of a data set asks the same questions):

- ``raw``: one memory per turn, as bench/locomo.py writes them (the turn and the turn it replies to).
- ``session``: one memory per session, ``"[<session date>]"`` then every turn as ``"<speaker>: <text>"``, one a
  line; `source_refs` is ``[{"session": "D<n>"}]`` (a LOCOMO session can have 47 turns, more than the 32
  `source_refs` a memory may carry, so the session is named instead of its turns).
- ``mixed``: sessions whose number is a multiple of DOCUMENT_EVERY (4, 8, ...) stored as one session memory
  each, as in session mode, the other sessions turn by turn, as in raw mode: a user with chat turns and a few
  long documents.

Evaluation is at session level in every mode, so the modes compare: a question's evidence turns are mapped to
their sessions (``D3:5`` -> ``D3``) and a ranked list of memories to the sessions they name, best first, each
once (a turn credits its session, a session memory itself). recall@k is the fraction of the question's
evidence sessions among the first k sessions named, hit@k whether any is, MRR the reciprocal rank of the first
(0 beyond the 10 memories asked for); k = 1, 3, 5, 10. "distinct sessions in top 10" counts the sessions the 10
memories returned name: 10 at most, and trivially the number returned in session mode; in raw and mixed mode
it shows how far the top 10 spreads over the conversation.

Legs, all on the same index of the same memories, each question searching its user with `limit` 10:

- ``hybrid``: the server's default search settings;
- ``bm25-only`` / ``dense-only``: the same search with `dense_weight` 0 / `keyword_weight` 0 (the other 1),
  set per run as `service.weights` (in-process);
- ``plain-bm25``: a reference computed here over the same memory contents, not by the index: Okapi BM25 with
  k1 1.2, b 0.75, the average length measured over the user's memories, IDF ln(1 + (N - n + 0.5) / (n + 0.5)),
  terms from `qdrant_edge.Bm25` with the index's tokenizer options (lowercase, ASCII folding, English
  stopwords, Snowball stemming) and b 0, whose weights are inverted back to term frequencies. Ties keep the
  memories' order.

The legs check fails the run (exit status 1, after the result is written) when on any mode hybrid R@10 is
below max(bm25-only, dense-only) R@10: a fusion must never do worse than its own lists. The session and mixed
mode targets (hybrid >= each leg + 0.05 R@10) are reported, not enforced.

Ingest cost: each mode is written in-process to a fresh data dir (embedding, system of record, index:
bench/locomo.py's `ingest_inprocess`) and timed; the cost is seconds per 1,000 tokens of stored content,
tokens being all-MiniLM-L6-v2 WordPiece tokens of each memory's content without special tokens and without
truncation. The share of those tokens the embedder sees (it truncates at `embedder_max_tokens`) is reported
beside it.

Only the in-process path exists so far: no HTTP, so search latencies are of the services called directly.
`--conversations K` uses the first K conversations (users) of the data set.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import haystack
from bench.common import log, machine_info, wait_for_quiet, write_result
from bench.locomo import (
    CATEGORIES,
    DATASET,
    LIMIT,
    Prepared,
    Question,
    aggregate,
    evaluate,
    ingest_inprocess,
    inprocess_search,
    prepare_samples,
    raw_memories,
    score,
    sessions_of,
    turn_text,
    weight_value,
)
from membank.storage.qdrant_common.text import Bm25Text

MODES = ("raw", "session", "mixed")
DATASETS = ("locomo", "haystack")
KS = (1, 3, 5, 10)
DOCUMENT_EVERY = 4  # mixed mode: sessions 4, 8, 12, ... are stored as one long memory each
# Weight overrides of each leg of the index (ScoringWeights fields); hybrid keeps the server's defaults.
LEGS: dict[str, dict[str, Any]] = {
    "hybrid": {},
    "bm25-only": {"dense_weight": 0.0, "keyword_weight": 1.0},
    "dense-only": {"dense_weight": 1.0, "keyword_weight": 0.0},
}
PLAIN_BM25 = "plain-bm25"
BM25_K1 = 1.2
BM25_B = 0.75
TARGET_MARGIN = 0.05  # issue 14: session and mixed mode, hybrid R@10 >= each leg's + 0.05
TARGET_MODES = ("session", "mixed")


# -- memories of each mode -------------------------------------------------------------------------


def session_ref(number: int) -> str:
    return f"D{number}"


def session_of_turn(dia_id: str) -> str:
    """The session of a turn id: "D3:5" -> "D3" (LOCOMO turn ids start with their session number)."""
    return dia_id.split(":", 1)[0]


def session_memory(user_id: str, number: int, date: str, turns: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch item holding a whole session (see the module docstring)."""
    lines = [f"[{date}]", *(turn_text(turn, captions=False) for turn in turns)]
    return {
        "user_id": user_id,
        "content": "\n".join(lines),
        "memory_type": "episodic",
        "session_id": f"session-{number}",
        "source_refs": [{"session": session_ref(number)}],
        "metadata": {"session": number, "session_date": date, "turns": len(turns)},
    }


def session_memories(conversation: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    return [session_memory(user_id, n, date, turns) for n, date, turns in sessions_of(conversation)]


def mixed_memories(conversation: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    turns_by_session: dict[int, list[dict[str, Any]]] = {}
    for item in raw_memories(conversation, user_id, captions=False, context=True):
        turns_by_session.setdefault(item["metadata"]["session"], []).append(item)
    items: list[dict[str, Any]] = []
    for number, date, turns in sessions_of(conversation):
        if number % DOCUMENT_EVERY == 0:
            items.append(session_memory(user_id, number, date, turns))
        else:
            items += turns_by_session.get(number, [])
    return items


def raw_turn_memories(conversation: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    return raw_memories(conversation, user_id, captions=False, context=True)


MEMORIES_OF = {"raw": raw_turn_memories, "session": session_memories, "mixed": mixed_memories}


def load_samples(dataset: str, limit: int | None) -> tuple[list[dict[str, Any]], tuple[int, ...]]:
    """The data set's conversations (the first `limit`) and the question categories used."""
    if dataset == "haystack":
        return haystack.generate()[:limit], tuple(haystack.CATEGORIES)
    return json.loads(DATASET.read_text())[:limit], (1, 2, 3, 4)


def prepare_mode(samples: list[dict[str, Any]], mode: str, categories: Iterable[int]) -> Prepared:
    prepared = prepare_samples(
        samples,
        MEMORIES_OF[mode],
        ingestion={"mode": mode, "document_every": DOCUMENT_EVERY if mode == "mixed" else None},
        categories=categories,
    )
    prepared.questions = [at_session_level(question) for question in prepared.questions]
    return prepared


def at_session_level(question: Question) -> Question:
    sessions = list(dict.fromkeys(session_of_turn(dia_id) for dia_id in question.evidence))
    return dataclasses.replace(question, evidence=sessions)


# -- metrics ---------------------------------------------------------------------------------------


def ranked_sessions(memories: list[dict[str, Any]]) -> list[str]:
    """The sessions a ranked list of memories names, best first, each once (a turn names its session)."""
    sessions: list[str] = []
    for memory in memories:
        for ref in memory.get("source_refs") or []:
            session = ref.get("session") or (session_of_turn(ref["dia_id"]) if ref.get("dia_id") else None)
            if session and session not in sessions:
                sessions.append(str(session))
    return sessions


def session_metrics(question: Question, memories: list[dict[str, Any]]) -> dict[str, float]:
    """`question.evidence` holds sessions (`at_session_level`)."""
    ranked = ranked_sessions(memories[:LIMIT])
    return {**score(question.evidence, ranked, KS), "distinct_sessions@10": float(len(ranked))}


def by_evidence_form(prepared: Prepared, rows: list[tuple[int, dict[str, float]]]) -> dict[str, Any]:
    """Overall metrics of the questions whose evidence sessions are all stored as one memory each
    ("documents"), all turn by turn ("turns"), or some of each ("both"); only mixed mode has more than one."""
    documents = {
        (user, ref["session"])
        for user, items in prepared.memories.items()
        for item in items
        for ref in item["source_refs"]
        if "session" in ref
    }
    grouped: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for question, row in zip(prepared.questions, rows, strict=True):
        forms = {(question.user_id, session) in documents for session in question.evidence}
        form = "both" if len(forms) > 1 else "documents" if forms == {True} else "turns"
        grouped.setdefault(form, []).append(row)
    return {form: aggregate(group)["overall"] for form, group in sorted(grouped.items())}


# -- plain BM25 (the reference) --------------------------------------------------------------------


class PlainBm25:
    """Okapi BM25 over one user's memories (see the module docstring)."""

    def __init__(self, items: list[dict[str, Any]], text: Bm25Text) -> None:
        self._items = items
        self._text = text
        self._docs = [text.counts(item["content"]).counts for item in items]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._avg_len = sum(self._lengths) / len(self._lengths) if self._lengths else 1.0
        document_frequency: Counter[int] = Counter(term for doc in self._docs for term in doc)
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}

    def search(self, query: str, limit: int = LIMIT) -> list[dict[str, Any]]:
        terms = [t for t in self._text.query(query)[0] if t in self._idf]
        scored: list[tuple[float, int]] = []
        for position, (doc, length) in enumerate(zip(self._docs, self._lengths, strict=True)):
            norm = BM25_K1 * (1 - BM25_B + BM25_B * length / self._avg_len)
            value = sum(self._idf[t] * doc[t] * (BM25_K1 + 1) / (doc[t] + norm) for t in terms if t in doc)
            if value > 0:
                scored.append((value, position))
        scored.sort(key=lambda entry: (-entry[0], entry[1]))
        return [self._items[position] for _, position in scored[:limit]]


async def plain_bm25_leg(prepared: Prepared, names: dict[int, str]) -> dict[str, Any]:
    text = Bm25Text()
    indexes = {user: PlainBm25(items, text) for user, items in prepared.memories.items()}

    async def search(question: Question) -> list[dict[str, Any]]:
        return indexes[question.user_id].search(question.question)

    rows, latency = await evaluate(search, prepared.questions, measure=session_metrics)
    return {"search": latency, "metrics": aggregate(rows, names), "rows": rows}


# -- ingest cost -----------------------------------------------------------------------------------


def token_stats(prepared: Prepared, max_tokens: int) -> dict[str, Any]:
    """WordPiece tokens of the stored contents, and how many of them the embedder sees."""
    from tokenizers import Tokenizer

    from membank.providers.embedders.onnx import default_tokenizer_path

    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    contents = [item["content"] for items in prepared.memories.values() for item in items]
    counts = [len(e.ids) for e in tokenizer.encode_batch(contents, add_special_tokens=False)]
    visible = max_tokens - 2  # [CLS] and [SEP] take two of the embedder's positions
    total = sum(counts)
    return {
        "memories": len(counts),
        "tokens": total,
        "mean_tokens": round(total / len(counts), 1),
        "max_tokens": max(counts),
        "memories_over_embedder_limit": sum(1 for c in counts if c > visible),
        "embedded_token_share": round(sum(min(c, visible) for c in counts) / total, 3),
        "embedder_max_tokens": max_tokens,
    }


# -- one mode, in-process --------------------------------------------------------------------------


async def run_mode(
    prepared: Prepared, names: dict[int, str], variants: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Ingest the mode's memories into a fresh index, then every leg (and each of `variants`: other
    ScoringWeights of the hybrid search, for comparing fusions on the same index) on the same questions."""
    from membank.auth.keys import issue_key
    from membank.bootstrap import build_container
    from membank.config import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="membank-long-memory-"))
    settings = Settings(data_dir=data_dir, log_level="WARNING", run_workers=False)
    container = build_container(settings)
    legs: dict[str, Any] = {}
    try:
        await container.start()
        plaintext = issue_key(container.store.keys, tenant_name="default", name="long-memory").plaintext
        principal = await container.auth.authenticate(plaintext)
        ingest = await ingest_inprocess(container, principal, prepared)
        service = container.search
        assert service is not None
        defaults = service.weights

        search = inprocess_search(service, principal)

        for leg, changes in {**LEGS, **(variants or {})}.items():
            service.weights = dataclasses.replace(defaults, **changes)
            rows, latency = await evaluate(search, prepared.questions, measure=session_metrics)
            legs[leg] = {
                "weights": dataclasses.asdict(service.weights),
                "search": latency,
                "metrics": aggregate(rows, names),
                "by_evidence_form": by_evidence_form(prepared, rows),
            }
            log(f"  {leg}: {summary_line(legs[leg]['metrics'])}")
    finally:
        await container.aclose()
        shutil.rmtree(data_dir, ignore_errors=True)
    legs[PLAIN_BM25] = await plain_bm25_leg(prepared, names)
    legs[PLAIN_BM25]["by_evidence_form"] = by_evidence_form(prepared, legs[PLAIN_BM25].pop("rows"))
    log(f"  {PLAIN_BM25}: {summary_line(legs[PLAIN_BM25]['metrics'])}")
    tokens = token_stats(prepared, settings.embedder_max_tokens)
    ingest["seconds_per_1k_tokens"] = round(ingest["seconds"] / (tokens["tokens"] / 1000), 4)
    return {
        "counts": prepared.counts,
        "ingestion": prepared.ingestion,
        "ingest": ingest,
        "tokens": tokens,
        "legs": legs,
    }


def summary_line(metrics: dict[str, Any]) -> str:
    m = metrics["overall"]
    return (
        f"R@1 {m['recall@1']:.3f}, R@10 {m['recall@10']:.3f}, hit@3 {m['hit@3']:.3f}, MRR {m['mrr']:.3f}, "
        f"distinct sessions@10 {m['distinct_sessions@10']:.2f}"
    )


# -- checks and report -----------------------------------------------------------------------------


def recall_at_10(mode_result: dict[str, Any], leg: str) -> float:
    return float(mode_result["legs"][leg]["metrics"]["overall"]["recall@10"])


def legs_check(modes: dict[str, Any]) -> list[str]:
    """Failures of "hybrid R@10 >= max(bm25-only, dense-only) R@10", one line per mode that fails."""
    failures = []
    for mode, r in modes.items():
        hybrid = recall_at_10(r, "hybrid")
        best = max(("bm25-only", "dense-only"), key=lambda leg: recall_at_10(r, leg))
        if hybrid < recall_at_10(r, best):
            failures.append(
                f"{mode} mode: hybrid R@10 {hybrid:.3f} < {best} R@10 {recall_at_10(r, best):.3f}"
            )
    return failures


def targets(modes: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 14's session and mixed mode targets: hybrid R@10 >= each leg's + TARGET_MARGIN."""
    out = []
    for mode in TARGET_MODES:
        if mode not in modes:
            continue
        hybrid = recall_at_10(modes[mode], "hybrid")
        for leg in ("bm25-only", "dense-only"):
            wanted = recall_at_10(modes[mode], leg) + TARGET_MARGIN
            out.append(
                {
                    "mode": mode,
                    "leg": leg,
                    "hybrid": hybrid,
                    "wanted": round(wanted, 4),
                    "met": hybrid >= wanted,
                }
            )
    return out


def report_tables(result: dict[str, Any]) -> list[str]:
    """Markdown: per mode, one row per leg; then ingest cost and categories of hybrid (docs/benchmarks.md)."""
    out = [
        "| mode | leg | R@1 | R@3 | R@5 | R@10 | hit@3 | hit@10 | MRR | distinct sessions in top 10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, r in result["modes"].items():
        for leg, run in r["legs"].items():
            m = run["metrics"]["overall"]
            out.append(
                f"| {mode} | {leg} | {m['recall@1']:.3f} | {m['recall@3']:.3f} | {m['recall@5']:.3f} | "
                f"{m['recall@10']:.3f} | {m['hit@3']:.3f} | {m['hit@10']:.3f} | {m['mrr']:.3f} | "
                f"{m['distinct_sessions@10']:.2f} |"
            )
    out += [
        "",
        "| mode | memories | questions | tokens (mean / max per memory) | memories over the embedder's "
        "limit | tokens embedded | ingest s | s per 1k tokens | hybrid search p50 ms |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for mode, r in result["modes"].items():
        t, ingest, search = r["tokens"], r["ingest"], r["legs"]["hybrid"]["search"]
        out.append(
            f"| {mode} | {t['memories']} | {r['counts']['qa_used']} | {t['tokens']} ({t['mean_tokens']} / "
            f"{t['max_tokens']}) | {t['memories_over_embedder_limit']} | {t['embedded_token_share']:.0%} | "
            f"{ingest['seconds']} | {ingest['seconds_per_1k_tokens']} | {search.get('p50_ms')} |"
        )
    first = next(iter(result["modes"].values()))
    categories = [key for key in first["legs"]["hybrid"]["metrics"] if key != "overall"]
    out += [
        "",
        "R@10 by category (hybrid / bm25-only / dense-only / plain-bm25):",
        "",
        "| mode | "
        + " | ".join(f"{c} ({first['legs']['hybrid']['metrics'][c]['name']})" for c in categories)
        + " |",
        "|---|" + "---:|" * len(categories),
    ]
    for mode, r in result["modes"].items():
        cells = [
            " / ".join(f"{r['legs'][leg]['metrics'][c]['recall@10']:.3f}" for leg in r["legs"])
            for c in categories
        ]
        out.append(f"| {mode} | " + " | ".join(cells) + " |")
    mixed = result["modes"].get("mixed")
    if mixed:
        forms = list(mixed["legs"]["hybrid"]["by_evidence_form"])
        out += [
            "",
            "Mixed mode by where the evidence is stored, R@10 (hybrid / bm25-only / dense-only / plain-bm25):",
            "",
            "| evidence in | " + " | ".join(forms) + " |",
            "|---|" + "---:|" * len(forms),
            "| questions | "
            + " | ".join(str(mixed["legs"]["hybrid"]["by_evidence_form"][f]["count"]) for f in forms)
            + " |",
            "| R@10 | "
            + " | ".join(
                " / ".join(f"{run['by_evidence_form'][f]['recall@10']:.3f}" for run in mixed["legs"].values())
                for f in forms
            )
            + " |",
        ]
    checks = result["legs_check"] or ["every mode: hybrid R@10 >= max(bm25-only, dense-only) R@10"]
    out += [
        "",
        "Legs check: " + ("FAILED: " if result["legs_check"] else "passed: ") + "; ".join(checks) + ".",
    ]
    if result["targets"]:
        out.append(
            "Targets (hybrid R@10 >= leg + 0.05): "
            + "; ".join(
                f"{t['mode']} vs {t['leg']}: {t['hybrid']:.3f} vs ≥ {t['wanted']:.3f} {'met' if t['met'] else 'missed'}"
                for t in result["targets"]
            )
            + "."
        )
    return out


# -- entry point -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--inprocess", action="store_true", help="call the services directly (the only path so far)"
    )
    parser.add_argument("--dataset", choices=DATASETS, default="locomo")
    parser.add_argument("--mode", choices=(*MODES, "all"), default="all")
    parser.add_argument("--conversations", type=int, help="use only the first K conversations (users)")
    parser.add_argument("--output", help="result name under bench/results (default long-memory-<dataset>)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:FIELD=VALUE,...",
        help="also run the hybrid search with these ScoringWeights, e.g. dbsf:fusion=dbsf,dense_weight=0.5",
    )
    args = parser.parse_args()
    if not args.inprocess:
        parser.error("only --inprocess is implemented: the HTTP path is still to be written")
    return args


def variants(specs: list[str]) -> dict[str, dict[str, Any]]:
    """`--variant` values as leg name -> ScoringWeights overrides."""
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name, _, fields = spec.partition(":")
        pairs = (field.partition("=") for field in filter(None, fields.split(",")))
        out[name] = {key: weight_value(key, value) for key, _, value in pairs}
    return out


def main() -> None:
    args = parse_args()
    samples, categories = load_samples(args.dataset, args.conversations)
    names = haystack.CATEGORIES if args.dataset == "haystack" else CATEGORIES
    background = wait_for_quiet()
    machine = machine_info()
    started = time.perf_counter()
    modes: dict[str, Any] = {}
    for mode in MODES if args.mode == "all" else (args.mode,):
        prepared = prepare_mode(samples, mode, categories)
        log(f"{args.dataset} {mode} mode: {json.dumps(prepared.counts)}")
        modes[mode] = asyncio.run(run_mode(prepared, names, variants(args.variant)))
    result: dict[str, Any] = {
        "dataset": args.dataset,
        "command": " ".join(["python -m bench.long_memory", *sys.argv[1:]]),
        "machine": machine,
        "background_cpu_pct_before": background,
        "seconds": round(time.perf_counter() - started, 1),
        "modes": modes,
        "legs_check": legs_check(modes),
        "targets": targets(modes),
    }
    print("\n".join(report_tables(result)))
    log(
        f"wrote {write_result(args.output or f'long-memory-{args.dataset}', result)} in {result['seconds']} s"
    )
    if result["legs_check"]:
        raise SystemExit("legs check failed: " + "; ".join(result["legs_check"]))


if __name__ == "__main__":
    main()
