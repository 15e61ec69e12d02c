"""Relative dates resolved against the message time, in the one content format."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from membank.ingest.extraction.dates import day, resolve

# A Monday.
NOW = datetime(2023, 5, 8, 13, 56)


@pytest.mark.parametrize(
    ("text", "expected", "first"),
    [
        ("I went to a support group yesterday", "I went to a support group on 7 May 2023", date(2023, 5, 7)),
        ("I have an exam tomorrow", "I have an exam on 9 May 2023", date(2023, 5, 9)),
        ("We meet today", "We meet on 8 May 2023", date(2023, 5, 8)),
        ("I saw it last night", "I saw it on the night of 7 May 2023", date(2023, 5, 7)),
        ("concert tonight", "concert on the evening of 8 May 2023", date(2023, 5, 8)),
        ("I started last week", "I started the week of 1 May 2023", date(2023, 5, 1)),
        ("I start next week", "I start the week of 15 May 2023", date(2023, 5, 15)),
        ("I painted it last year", "I painted it in 2022", date(2022, 1, 1)),
        ("moving next month", "moving in June 2023", date(2023, 6, 1)),
        ("I ran a race last Friday", "I ran a race on 5 May 2023", date(2023, 5, 5)),
        ("dinner next Tuesday", "dinner on 9 May 2023", date(2023, 5, 9)),
        ("party this Saturday", "party on 13 May 2023", date(2023, 5, 13)),
        ("camping this weekend", "camping the weekend of 13 May 2023", date(2023, 5, 13)),
        ("camping last weekend", "camping the weekend of 6 May 2023", date(2023, 5, 6)),
        ("back in 3 days", "back on 11 May 2023", date(2023, 5, 11)),
        ("I quit two weeks ago", "I quit the week of 24 April 2023", date(2023, 4, 24)),
        ("It happened 2 days ago", "It happened on 6 May 2023", date(2023, 5, 6)),
        ("we hiked last summer", "we hiked in summer 2022", date(2022, 6, 1)),
        ("sick since yesterday", "sick since 7 May 2023", date(2023, 5, 7)),
    ],
)
def test_relative_dates_become_absolute(text: str, expected: str, first: date) -> None:
    resolved = resolve(text, NOW)
    assert resolved.text == expected
    assert resolved.first == first


@pytest.mark.parametrize(
    "text", ["I saw her a few days ago", "I moved recently", "the other day was fun", "today's game"]
)
def test_fuzzy_or_possessive_phrases_stay_as_written(text: str) -> None:
    assert resolve(text, NOW).text == text
    assert resolve(text, NOW).first is None


def test_last_weekday_on_that_weekday_means_a_week_ago() -> None:
    assert resolve("last Monday", NOW).first == date(2023, 5, 1)
    assert resolve("next Monday", NOW).first == date(2023, 5, 15)


def test_month_arithmetic_crosses_year_boundaries() -> None:
    assert resolve("last month", datetime(2024, 1, 15)).text == "in December 2023"
    assert resolve("next month", datetime(2023, 12, 31)).text == "in January 2024"


def test_day_format_is_readable() -> None:
    assert day(date(2023, 5, 7)) == "7 May 2023"
