"""The long-memory benchmark's own logic (bench/long_memory.py, bench/haystack.py): no index, no model."""

from __future__ import annotations

import json
from typing import Any

from bench import haystack
from bench.long_memory import (
    PlainBm25,
    legs_check,
    mixed_memories,
    prepare_mode,
    ranked_sessions,
    session_memories,
)

from membank.storage.qdrant_common.text import Bm25Text


def _mode_result(**recall_at_10: float) -> dict[str, Any]:
    return {"legs": {leg: {"metrics": {"overall": {"recall@10": r}}} for leg, r in recall_at_10.items()}}


def test_the_haystack_is_the_same_for_the_same_seed_and_questions_never_give_the_answer_away() -> None:
    corpus = haystack.generate(users=3)
    assert json.dumps(corpus) == json.dumps(haystack.generate(users=3))
    assert json.dumps(corpus) != json.dumps(haystack.generate(users=3, seed=15))
    for sample in corpus:
        for qa in sample["qa"]:
            for value in qa["answer"].split("; "):
                assert value.lower() not in qa["question"].lower()


def test_evidence_and_rankings_are_compared_by_session_in_every_mode() -> None:
    samples = haystack.generate(users=1)
    prepared = prepare_mode(samples, "mixed", haystack.CATEGORIES)
    assert all(e.startswith("D") and ":" not in e for q in prepared.questions for e in q.evidence)
    turn = {"source_refs": [{"dia_id": "D3:5"}]}
    document = {"source_refs": [{"session": "D4"}]}
    assert ranked_sessions([turn, {"source_refs": [{"dia_id": "D3:7"}]}, document]) == ["D3", "D4"]


def test_mixed_mode_stores_every_fourth_session_as_one_memory_and_the_rest_turn_by_turn() -> None:
    conversation = haystack.generate(users=1)[0]["conversation"]
    sessions = session_memories(conversation, "u")
    mixed = mixed_memories(conversation, "u")
    documents = [m for m in mixed if "session" in m["source_refs"][0]]
    assert [m["metadata"]["session"] for m in documents] == [
        m["metadata"]["session"] for m in sessions if m["metadata"]["session"] % 4 == 0
    ]
    turns = sum(len(conversation[f"session_{m['metadata']['session']}"]) for m in sessions)
    assert len(mixed) - len(documents) == turns - sum(m["metadata"]["turns"] for m in documents)


def test_plain_bm25_counts_terms_exactly_and_ranks_by_okapi_bm25() -> None:
    counter = Bm25Text()
    assert sorted(PlainBm25([{"content": "porto " * 40 + "lisbon"}], counter)._docs[0].values()) == [1, 40]
    items = [
        {"content": "I moved to Porto last spring"},
        {"content": "Porto " + "wine and the long river " * 30},
        {"content": "the weather is mild"},
    ]
    assert [i["content"] for i in PlainBm25(items, counter).search("moved to Porto")] == [
        items[0]["content"],
        items[1]["content"],
    ]


def test_the_legs_check_names_the_mode_and_leg_that_beat_the_hybrid() -> None:
    modes = {
        "raw": _mode_result(hybrid=0.8, **{"bm25-only": 0.7, "dense-only": 0.8}),
        "session": _mode_result(hybrid=0.5, **{"bm25-only": 0.6, "dense-only": 0.4}),
    }
    assert legs_check(modes) == ["session mode: hybrid R@10 0.500 < bm25-only R@10 0.600"]
