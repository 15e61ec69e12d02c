"""Restating a known fact is a NOOP (issue 7, item 7), written as conversations through the API and the job
path: the same slot with the same value, in any words and from either party, changes nothing; a value said
again after it changed is an update back; discourse framing never reaches the stored text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_conversations_api import current, events, exchange


def history(api: Api, memory_id: str) -> list[str]:
    entries = api.call("GET", f"/api/v1/memories/{memory_id}/history").json()["data"]["history"]
    return [entry["event"] for entry in entries]


def homes(api: Api, user_id: str = "u1") -> list[str]:
    return [m for m in current(api, user_id) if "live" in m or "moved" in m or "based" in m]


def test_the_reproduction_of_the_issue(api: Api) -> None:
    exchange(api, "I live in Paris", timestamp="2026-01-05T09:00:00Z")
    moved = exchange(api, "I moved to Berlin last month", timestamp="2026-04-02T09:00:00Z")
    assert events(moved) == ["UPDATE"]
    berlin = moved["actions"][0]["memory_id"]
    again = exchange(api, "As I said, I live in Berlin now.", timestamp="2026-04-03T09:00:00Z")
    assert events(again) == ["NOOP"], again["actions"]
    assert again["actions"][0]["memory_id"] == berlin
    assert again["actions"][0]["reason"] == "restates the current value of user/residence"
    next_day = exchange(api, "I live in Berlin.", timestamp="2026-04-04T09:00:00Z")
    assert events(next_day) == ["NOOP"]
    assert homes(api) == ["User moved to Berlin in March 2026."]
    assert history(api, berlin) == ["CREATE", "SUPERSEDED", "UPDATE"]  # nothing written by the NOOPs


@pytest.mark.parametrize(
    "restatement",
    [
        "I live in Berlin.",
        "I'm living in Berlin these days.",
        "I'm based in Berlin.",
        "My home is in Berlin.",
        "Like I told you, I live in berlin!",
        "Oh, and by the way, I still live in Berlin.",
        "I have moved to Berlin, remember?",
        "I live in Berlin now, as I mentioned before.",
    ],
)
def test_paraphrases_of_the_current_value_are_noops(api: Api, restatement: str) -> None:
    exchange(api, "I moved to Berlin two weeks ago.", timestamp="2026-03-10T09:00:00Z")
    result = exchange(api, restatement, timestamp="2026-03-11T09:00:00Z")
    assert events(result) == ["NOOP"], result["actions"]
    assert homes(api) == ["User moved to Berlin the week of 23 February 2026."]


def test_the_value_said_by_the_assistant_and_confirmed_by_the_user_is_a_noop(api: Api) -> None:
    exchange(api, "I live in Lisbon.", timestamp="2026-03-01T09:00:00Z")
    acknowledged = exchange(
        api, "Any tips for a rainy weekend?", "Got it, you live in Lisbon, so try the Gulbenkian museum."
    )
    assert events(acknowledged) == ["NOOP"], acknowledged["actions"]
    body: dict[str, Any] = {
        "user_id": "u1",
        "user_input": "Yes.",
        "history": [{"role": "assistant", "content": "Do you live in Lisbon?"}],
    }
    response = api.call("POST", "/api/v1/memories/process-conversation?wait=true", json=body)
    confirmed = response.json()["data"]["result"]
    assert events(confirmed) == ["NOOP"], confirmed["actions"]
    assert homes(api) == ["User lives in Lisbon."]


def test_a_value_said_again_after_it_changed_twice(api: Api) -> None:
    exchange(api, "I live in Paris.", timestamp="2026-01-01T09:00:00Z")
    exchange(api, "I moved to Berlin.", timestamp="2026-02-01T09:00:00Z")
    exchange(api, "I moved to Lisbon.", timestamp="2026-03-01T09:00:00Z")
    assert homes(api) == ["User moved to Lisbon."]
    same = exchange(api, "I live in Lisbon.", timestamp="2026-03-02T09:00:00Z")
    assert events(same) == ["NOOP"]
    back = exchange(api, "I live in Berlin.", timestamp="2026-03-03T09:00:00Z")
    assert events(back) == ["UPDATE"], back["actions"]
    assert homes(api) == ["User lives in Berlin."]
    assert back["actions"][0]["old"] == "User moved to Lisbon."


def test_other_slots_restated_are_noops_and_changed_values_are_updates(api: Api) -> None:
    exchange(api, "I work at Acme and I'm 30 years old.", timestamp="2026-01-01T09:00:00Z")
    same = exchange(api, "Just so you know, I'm 30. I still work at Acme.", timestamp="2026-01-02T09:00:00Z")
    assert events(same) == ["NOOP", "NOOP"], same["actions"]
    older = exchange(api, "I turned 31 yesterday.", timestamp="2026-01-03T09:00:00Z")
    assert events(older) == ["UPDATE"]


@pytest.mark.parametrize(
    ("said", "stored"),
    [
        ("Big news: I moved to Berlin last month!", "User moved to Berlin in February 2026!"),
        ("As I said, I live in Berlin now.", "User lives in Berlin now."),
        ("Guess what, I got engaged!", "User got engaged!"),
        ("Oh, and I work at Acme.", "User works at Acme."),
        ("By the way, my favorite color is green.", "User's favorite color is green."),
        ("Like I told you, I'm vegan.", "User is vegan."),
        ("Fun fact: I was born in Porto.", "User was born in Porto."),
    ],
)
def test_discourse_framing_never_reaches_the_stored_text(api: Api, said: str, stored: str) -> None:
    result = exchange(api, said, timestamp="2026-03-10T09:00:00Z")
    assert events(result) == ["ADD"]
    assert current(api) == [stored]
