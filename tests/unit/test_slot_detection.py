"""The slot detector reads what a sentence says about an exclusive attribute, in the first person (as said)
or the third (as stored, or as sent to a direct create), with the value normalised for comparison."""

from __future__ import annotations

import pytest

from membank.ingest.extraction.slots import detect_slot
from membank.memories.slots import SlotFill, slot_aliases


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Alice moved to Berlin in 2021", SlotFill("alice", "residence", "berlin")),
        ("I live in Berlin", SlotFill("user", "residence", "berlin")),
        ("User moved to Lisbon the week of 2 March 2026.", SlotFill("user", "residence", "lisbon")),
        ("User lives in Berlin now.", SlotFill("user", "residence", "berlin")),
        ("The user is vegan.", SlotFill("user", "diet", "vegan")),
        ("User's favorite color is blue.", SlotFill("user", "favorite_color", "blue")),
        ("Caroline is from Sweden.", SlotFill("caroline", "origin", "sweden")),
        ("Alice has moved to Rome.", SlotFill("alice", "residence", "rome")),
        ("User works at Acme.", SlotFill("user", "employer", "acme")),
        ("User is 30.", SlotFill("user", "age", "30")),
    ],
)
def test_slots_of_first_and_third_person_sentences(content: str, expected: SlotFill) -> None:
    assert detect_slot(content, "alice") == expected


@pytest.mark.parametrize(
    "content", ["Berlin is lovely in spring.", "User went hiking.", "In 2021 we moved.", "", "   "]
)
def test_sentences_that_fill_no_slot(content: str) -> None:
    assert detect_slot(content, "alice") is None


def test_the_users_own_slot_has_two_names() -> None:
    assert slot_aliases("user/residence", "Alice") == ["user/residence", "alice/residence"]
    assert slot_aliases("alice/residence", "alice") == ["user/residence", "alice/residence"]
    assert slot_aliases("caroline/residence", "alice") == ["caroline/residence"]
