"""How much of LOCOMO's evidence the heuristic extractor keeps, and at what cost in memories per turn.

    .venv/bin/python -m bench.extraction_coverage            # summary
    .venv/bin/python -m bench.extraction_coverage --missed 20 --sample 20   # plus examples

Each session of each conversation is one Conversation whose turns are all role "user" with the speaker's name
and the session date as timestamp. Coverage is the fraction of the evidence turns of category 1-4 questions
that appear in some fact's `source_turns`: an upper bound on the recall of retrieval over extracted memories.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.locomo import DATASET, normalise_evidence
from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.ports import CandidateFact, Conversation, Turn

_SESSION = re.compile(r"session_(\d+)")
_TURN_ID = re.compile(r"D:?(\d+):(\d+)")


def session_date(raw: str) -> datetime:
    """ "1:56 pm on 8 May, 2023" -> datetime."""
    return datetime.strptime(raw.strip(), "%I:%M %p on %d %B, %Y")


def dia_id(raw: str) -> str:
    m = _TURN_ID.fullmatch(raw.strip())
    return f"D{int(m[1])}:{int(m[2])}" if m else raw.strip()


def sessions(sample: dict[str, Any]) -> list[tuple[Conversation, list[str]]]:
    """Each session as a Conversation, with the dia_id of each turn."""
    conv = sample["conversation"]
    out = []
    for key in sorted((k for k in conv if _SESSION.fullmatch(k)), key=lambda k: int(k.split("_")[1])):
        when = session_date(conv[f"{key}_date_time"])
        turns = [
            Turn(index=i, role="user", content=t["text"], timestamp=when, speaker=t["speaker"])
            for i, t in enumerate(conv[key])
        ]
        out.append(
            (
                Conversation(user_id=sample["sample_id"], session_id=key, turns=turns),
                [dia_id(t["dia_id"]) for t in conv[key]],
            )
        )
    return out


def run(extractor: HeuristicExtractor, data: list[dict[str, Any]]) -> dict[str, Any]:
    turns = 0
    facts: list[tuple[str, CandidateFact, list[str]]] = []
    evidence: set[tuple[str, str]] = set()
    covered: set[tuple[str, str]] = set()
    direct: set[tuple[str, str]] = set()  # the turn a fact came from, without the question it answers
    texts: dict[tuple[str, str], str] = {}
    started = time.perf_counter()
    for sample in data:
        sid = sample["sample_id"]
        present: set[str] = set()
        for conversation, ids in sessions(sample):
            turns += len(ids)
            present.update(ids)
            for turn, i in zip(conversation.turns, ids, strict=True):
                texts[(sid, i)] = f"{turn.speaker}: {turn.content}"
            for fact in extractor.extract_facts(conversation):
                refs = [ids[t] for t in fact.source_turns]
                facts.append((sid, fact, refs))
                covered.update((sid, r) for r in refs)
                direct.add((sid, refs[-1]))
        for qa in sample["qa"]:
            if int(qa.get("category", 0)) in (1, 2, 3, 4):
                ids_, _ = normalise_evidence(qa.get("evidence", []), present)
                evidence.update((sid, e) for e in ids_)
    elapsed = time.perf_counter() - started
    return {
        "turns": turns,
        "facts": len(facts),
        "facts_per_turn": len(facts) / turns,
        "evidence": len(evidence),
        "coverage": len(evidence & covered) / len(evidence),
        "direct_coverage": len(evidence & direct) / len(evidence),
        "ms_per_turn": 1000 * elapsed / turns,
        "_facts": facts,
        "_missed": sorted(evidence - covered),
        "_texts": texts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DATASET)
    parser.add_argument("--missed", type=int, default=0, help="print this many uncovered evidence turns")
    parser.add_argument("--sample", type=int, default=0, help="print this many random facts")
    args = parser.parse_args()
    data = json.loads(args.data.read_text())
    result = run(HeuristicExtractor(), data)
    rng = random.Random(7)
    for sid, dia in rng.sample(result["_missed"], min(args.missed, len(result["_missed"]))):
        print("MISSED", sid, dia, result["_texts"][(sid, dia)])
    for sid, fact, refs in rng.sample(result["_facts"], min(args.sample, len(result["_facts"]))):
        print(
            "FACT",
            sid,
            refs,
            fact.memory_type,
            fact.importance,
            fact.attribute,
            fact.entities,
            "|",
            fact.content,
        )
    print(
        json.dumps(
            {
                k: round(v, 4) if isinstance(v, float) else v
                for k, v in result.items()
                if not k.startswith("_")
            }
        )
    )


if __name__ == "__main__":
    main()
