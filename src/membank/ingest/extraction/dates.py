"""Relative dates ("yesterday", "last week", "next Tuesday") rewritten as absolute dates.

A stored memory outlives the moment it was said, so "yesterday" must become the day it meant. Each phrase
is replaced in place by a readable absolute form, always in the same style:

    day           "on 7 May 2023"            (yesterday, today, tomorrow, last Friday, in 3 days)
    part of day   "on the evening of 8 May 2023" (tonight, last night, this morning)
    week          "the week of 1 May 2023"   (last/this/next week, two weeks ago; Monday of that week)
    weekend       "the weekend of 13 May 2023"
    month         "in April 2023"            (last/this/next month, a month ago)
    year          "in 2022"                  (last/this/next year, two years ago)
    season        "in summer 2022"           (last/this/next summer)

Fuzzy phrases ("recently", "a few days ago", "the other day") stay as written: any date would be a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Every phrase the pattern can match is a key of one of these tables: the pattern is built from their keys,
# and a match is looked up by its normalised form (`phrase_key`), so no spelling of a matched phrase can miss.
_PARTS_OF_DAY = ("morning", "afternoon", "evening", "night")
#: phrase -> (kind, days from today, part of day)
DAY_PHRASES: dict[str, tuple[str, int, str]] = {
    "yesterday": ("day", -1, ""),
    "today": ("day", 0, ""),
    "tomorrow": ("day", 1, ""),
    "the day before yesterday": ("day", -2, ""),
    "the day after tomorrow": ("day", 2, ""),
    "tonight": ("part", 0, "evening"),
    "last night": ("part", -1, "night"),
    **{f"this {part}": ("part", 0, part) for part in _PARTS_OF_DAY if part != "night"},
    **{f"yesterday {part}": ("part", -1, part) for part in _PARTS_OF_DAY},
    **{f"tomorrow {part}": ("part", 1, part) for part in _PARTS_OF_DAY},
}
#: "last week", "next Friday": which one, relative to the current one
OFFSETS = {"last": -1, "previous": -1, "this": 0, "coming": 1, "next": 1}
SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
PERIODS = ("week", "weekend", "month", "year", *SEASON_START)
#: "two weeks ago", "in a couple of days"
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "a couple of": 2,
}
UNITS = ("day", "week", "month", "year")
# Prepositions that already say how the date relates; "since yesterday" must not become "since on ...".
_PREPOSITION = re.compile(r"\b(since|until|till|from|by|before|after|on|to|through)\s+$", re.IGNORECASE)
# Letters outside ASCII that a case-insensitive pattern matches for an ASCII one and casefold() does not map
# back (U+0130 folds to "i" + a combining dot, U+0131 stays): folded by hand so the table lookup finds them.
_FOLD_TO_ASCII = str.maketrans({"\u0131": "i", "\u0307": ""})


def phrase_key(phrase: str) -> str:
    """The table key of a matched phrase: case-folded (also the long s, the Kelvin sign and the dotted and
    dotless i), one space between words."""
    return " ".join(phrase.casefold().translate(_FOLD_TO_ASCII).split())


def _alternatives(phrases: Iterable[str]) -> str:
    """A regex alternation of `phrases`, longest first, any whitespace between their words."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in ordered)


@dataclass(frozen=True, slots=True)
class Resolved:
    """Text with relative dates made absolute, and the first date found (for `valid_from`)."""

    text: str
    first: date | None


def day(d: date) -> str:
    """ "7 May 2023": the one day format used in memory content."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _month(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.year}"


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _weekday_relative(today: date, name: str, offset: int) -> date:
    target = WEEKDAYS.index(name)
    if offset < 0:
        back = (today.weekday() - target) % 7 or 7
        return today - timedelta(days=back)
    ahead = (target - today.weekday()) % 7
    if offset > 0:
        return today + timedelta(days=ahead or 7)
    return today + timedelta(days=ahead)  # "this Saturday": the one of this week, today included


def _shift(today: date, n: int, unit: str) -> tuple[str, date]:
    """Kind and date `n` units from `today` (negative = in the past)."""
    if unit == "day":
        return "day", today + timedelta(days=n)
    if unit == "week":
        return "week", _monday(today + timedelta(weeks=n))
    if unit == "month":
        return "month", _add_months(today, n)
    return "year", date(today.year + n, 1, 1)


def _render(kind: str, d: date, extra: str = "") -> str:
    if kind == "day":
        return f"on {day(d)}"
    if kind == "part":
        return f"on the {extra} of {day(d)}"
    if kind == "week":
        return f"the week of {day(d)}"
    if kind == "weekend":
        return f"the weekend of {day(d)}"
    if kind == "month":
        return f"in {_month(d)}"
    if kind == "season":
        return f"in {extra} {d.year}"
    return f"in {d.year}"


def _simple(phrase: str, today: date) -> tuple[str, date, str]:
    kind, delta, extra = DAY_PHRASES[phrase_key(phrase)]
    return kind, today + timedelta(days=delta), extra


def _relative_unit(which: str, unit: str, today: date) -> tuple[str, date, str]:
    offset, unit = OFFSETS[phrase_key(which)], phrase_key(unit)
    if unit == "weekend":
        saturday = _monday(today) + timedelta(days=5 + 7 * offset)
        return "weekend", saturday, ""
    if unit in SEASON_START:
        season = "fall" if unit == "autumn" else unit
        return "season", date(today.year + offset, SEASON_START[season], 1), season
    kind, d = _shift(today, offset, unit)
    return kind, d, ""


def _count(n: str, unit: str, today: date, sign: int) -> tuple[str, date, str]:
    amount = int(n) if n.isdigit() else NUMBERS[phrase_key(n)]
    kind, d = _shift(today, sign * amount, phrase_key(unit))
    return kind, d, ""


_NUM = rf"\d{{1,2}}|{_alternatives(NUMBERS)}"
_UNIT = _alternatives(UNITS)
_PATTERN = re.compile(
    rf"\b(?:(?P<simple>{_alternatives(DAY_PHRASES)})"
    rf"|(?P<which>{_alternatives(OFFSETS)})\s+(?P<period>{_alternatives(PERIODS)})"
    rf"|(?P<dwhich>{_alternatives(OFFSETS)})\s+(?P<weekday>{_alternatives(WEEKDAYS)})"
    rf"|(?P<n>{_NUM})\s+(?P<unit>{_UNIT})s?\s+ago"
    rf"|in\s+(?P<n2>{_NUM})\s+(?P<unit2>{_UNIT})s?"
    r")\b(?!['\u2019]s)",
    re.IGNORECASE,
)


def _resolve_match(m: re.Match[str], today: date) -> tuple[str, date, str]:
    if m["simple"]:
        return _simple(m["simple"], today)
    if m["which"]:
        return _relative_unit(m["which"], m["period"], today)
    if m["weekday"]:
        weekday = _weekday_relative(today, phrase_key(m["weekday"]), OFFSETS[phrase_key(m["dwhich"])])
        return "day", weekday, ""
    if m["n"]:
        return _count(m["n"], m["unit"], today, -1)
    return _count(m["n2"], m["unit2"], today, 1)


def resolve(text: str, now: datetime) -> Resolved:
    """Rewrite the relative dates in `text` as absolute ones, relative to `now`."""
    today = now.date()
    first: date | None = None
    out: list[str] = []
    last = 0
    for m in _PATTERN.finditer(text):
        try:
            kind, d, extra = _resolve_match(m, today)
        except (OverflowError, ValueError):
            continue  # a date before year 1 or after 9999 cannot be written: the phrase stays as said
        rendered = _render(kind, d, extra)
        before = text[last : m.start()]
        if kind == "day" and _PREPOSITION.search(before):
            rendered = rendered.removeprefix("on ")
        if kind in ("month", "season", "year") and re.search(r"\bin\s+$", before, re.IGNORECASE):
            rendered = rendered.removeprefix("in ")
        out.append(before)
        out.append(rendered)
        last = m.end()
        if first is None:
            first = d
    out.append(text[last:])
    return Resolved("".join(out), first)
