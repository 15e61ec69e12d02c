"""Extraction never dies on text: every phrase a pattern table can match resolves, and the heuristic tier
never raises on random or adversarial conversations (property-based, with hypothesis)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from membank.ingest.extraction import dates, patterns, signals
from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.ports import Conversation, Role, Turn
from membank.ingest.extraction.rewrite import to_third_person
from membank.ingest.extraction.slots import detect_slot

NOW = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)  # a Monday

# Every relative-date phrase of the date tables, as its table spells it.
DATE_PHRASES = sorted(
    [
        *dates.DAY_PHRASES,
        *(f"{which} {period}" for which in dates.OFFSETS for period in dates.PERIODS),
        *(f"{which} {weekday}" for which in dates.OFFSETS for weekday in dates.WEEKDAYS),
        *(f"{n} {unit}s ago" for n in (*dates.NUMBERS, "3", "12") for unit in dates.UNITS),
        *(f"in {n} {unit}" for n in (*dates.NUMBERS, "7", "99") for unit in dates.UNITS),
    ]
)
# Characters outside ASCII that a case-insensitive pattern takes for an ASCII letter.
CASE_TWINS = {
    letter: [chr(c) for c in range(0x80, 0x110000) if re.fullmatch(letter, chr(c), re.IGNORECASE)]
    for letter in "abcdefghijklmnopqrstuvwxyz"
}
WHITESPACE = [chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c))]


def _spellings(phrase: str) -> list[str]:
    """The phrase as typed: lower, upper and title case, every non-ASCII case twin of each letter, and
    every kind of whitespace (and runs of it) between its words."""
    out = [phrase, phrase.upper(), phrase.title()]
    for i, char in enumerate(phrase):
        out += [phrase[:i] + twin + phrase[i + 1 :] for twin in CASE_TWINS.get(char, [])]
    out += [space.join(phrase.split()) for space in WHITESPACE]
    out.append("  \t ".join(phrase.split()))
    return out


@pytest.mark.parametrize("phrase", DATE_PHRASES)
def test_every_spelling_of_every_date_phrase_resolves_like_the_table_says(phrase: str) -> None:
    canonical = dates.resolve(f"I saw it {phrase}.", NOW)
    assert canonical.first is not None, phrase  # the pattern matches what the tables list
    for spelling in _spellings(phrase):
        resolved = dates.resolve(f"I saw it {spelling}.", NOW)
        assert (resolved.text, resolved.first) == (canonical.text, canonical.first), spelling


def test_the_phrase_of_the_issue_resolves() -> None:
    # KeyError: 'yesterday night' killed a whole session's extraction.
    resolved = dates.resolve("We talked yesterday night and again tomorrow afternoon.", NOW)
    assert resolved.text == "We talked on the night of 7 May 2023 and again on the afternoon of 9 May 2023."


@pytest.mark.parametrize("moment", [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)])
def test_a_date_outside_the_calendar_leaves_the_phrase_as_said(moment: datetime) -> None:
    for phrase in DATE_PHRASES:
        resolved = dates.resolve(f"I saw it {phrase}.", moment)
        assert resolved.first is None or date.min <= resolved.first <= date.max


def test_every_combination_of_two_date_phrases_resolves() -> None:
    for a, b in itertools.product(DATE_PHRASES, repeat=2):
        resolved = dates.resolve(f"{a} {b}", NOW)
        assert resolved.first is not None


_SCRIPTS = st.sampled_from(
    [
        "I moved to Berlin",
        "Я переехал в Москву",
        "我住在北京",
        "أنا أعيش في القاهرة",  # right to left
        "אני גר בתל אביב",
        "मैं दिल्ली में रहता हूँ",
        "I live in São Paulo 🇧🇷",
        "my favorite food is 🍣",
        "I'm 3\u200b0 years old",
        "\u202eI live in Paris\u202c",  # right-to-left override
        "I work at Ac\u0301me",
        "\ufeffI am vegan",
        "\x00\x07\x1b[31m",
        "I'm from \U0001f600",
        "As I said, big news: oh, and by the way",
        "Thanks, \\1! \\g<0>",
        "I \ud800 live in \udfff",  # lone surrogates, as JSON can carry them
    ]
)
_WORDS = st.sampled_from(
    [
        *DATE_PHRASES,
        *(word for phrase in DATE_PHRASES for word in phrase.split()),
        "I",
        "I'm",
        "my",
        "you",
        "your",
        "live in",
        "moved to",
        "work at",
        "favorite",
        "no longer",
        "forget",
        "?",
        "!",
        ".",
        ",",
        "-",
        "'s",
        "Yes",
        "Caroline",
        "\n",
        "",
    ]
)
_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_WORDS, _SCRIPTS), max_size=40).map(" ".join),
    st.lists(st.one_of(_WORDS, _SCRIPTS, st.text(max_size=5)), max_size=40).map("".join),
    st.sampled_from(["", " ", "\n\n", "\t \u00a0\u3000", "\u200b\u200c\u200d", "." * 500]),
)
_NAME = st.one_of(st.none(), st.text(min_size=1, max_size=12), st.sampled_from(["\\1", "a\\", "\\g<0>"]))
_TURN = st.tuples(st.sampled_from(["user", "assistant", "system"]), _TEXT, _NAME)


def _conversation(turns: list[tuple[Role, str, str | None]], moment: datetime) -> Conversation:
    return Conversation(
        user_id="u1",
        session_id="s1",
        turns=[Turn(i, role, text, moment, speaker=name) for i, (role, text, name) in enumerate(turns)],
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    turns=st.lists(_TURN, min_size=1, max_size=6),
    moment=st.sampled_from([NOW, datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)]),
)
def test_the_heuristic_tier_never_raises(turns: list[tuple[Role, str, str | None]], moment: datetime) -> None:
    facts = HeuristicExtractor().extract_facts(_conversation(turns, moment))
    for fact in facts:
        assert fact.content.strip()
        assert fact.source_turns and all(0 <= i < len(turns) for i in fact.source_turns)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, name=st.sampled_from(["User", "Alice", "The user", "I"]))
def test_slot_detection_never_raises(text: str, name: str) -> None:
    detect_slot(f"{name} {text}", "alice")
    detect_slot(text, "alice")
    patterns.retraction(text)
    signals.strip_interjections(text)


@pytest.mark.parametrize("size", [5_000, 20_000])
def test_very_long_messages_are_read(size: int) -> None:
    sentence = "Yesterday night I moved to Berlin with my dog Rex and it was great, "
    text = (sentence * (size // len(sentence) + 1))[:size]
    facts = HeuristicExtractor().extract_facts(_conversation([("user", text, None)], NOW))
    assert facts


def test_unicode_normal_forms_of_a_message_extract_alike() -> None:
    text = "I moved to Zürich yesterday night."
    contents = {
        tuple(
            f.content for f in HeuristicExtractor().extract_facts(_conversation([("user", form, None)], NOW))
        )
        for form in (unicodedata.normalize(nf, text) for nf in ("NFC", "NFKC"))
    }
    assert contents == {("User moved to Zürich on the night of 7 May 2023.",)}


def test_a_speaker_named_by_a_nul_character_is_a_name_like_any_other() -> None:
    # Found by the property above on a fresh clone: a name equal to the conjugation rule's old "\0" marker
    # sent the bare-pronoun rule down the conjugation path (IndexError: no such group).
    assert to_third_person("Then I", "\x00") == "Then \x00"
    assert to_third_person("I live in Paris", "\x00") == "\x00 lives in Paris"
