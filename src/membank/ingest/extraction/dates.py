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
_NUMBERS = {
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
_NUM = r"(?P<n>\d{1,2}|a couple of|couple of|an?|one|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT = r"(?P<unit>day|week|month|year)s?"
# Prepositions that already say how the date relates; "since yesterday" must not become "since on ...".
_PREPOSITION = re.compile(r"\b(since|until|till|from|by|before|after|on|to|through)\s+$", re.IGNORECASE)
_SEASONS = ("spring", "summer", "fall", "autumn", "winter")
_SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "winter": 12}


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


def _weekday_relative(today: date, name: str, which: str) -> date:
    target = WEEKDAYS.index(name.lower())
    if which == "last":
        back = (today.weekday() - target) % 7 or 7
        return today - timedelta(days=back)
    ahead = (target - today.weekday()) % 7
    if which == "next":
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


def _offset(which: str) -> int:
    return {"last": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}[which.lower()]


def _simple(word: str, today: date) -> tuple[str, date, str]:
    word = word.lower()
    parts = {
        "yesterday": ("day", -1, ""),
        "today": ("day", 0, ""),
        "tomorrow": ("day", 1, ""),
        "tonight": ("part", 0, "evening"),
        "last night": ("part", -1, "night"),
        "this morning": ("part", 0, "morning"),
        "this afternoon": ("part", 0, "afternoon"),
        "this evening": ("part", 0, "evening"),
        "yesterday morning": ("part", -1, "morning"),
        "yesterday afternoon": ("part", -1, "afternoon"),
        "yesterday evening": ("part", -1, "evening"),
        "tomorrow morning": ("part", 1, "morning"),
        "tomorrow evening": ("part", 1, "evening"),
        "tomorrow night": ("part", 1, "night"),
        "the day before yesterday": ("day", -2, ""),
        "the day after tomorrow": ("day", 2, ""),
    }
    kind, delta, extra = parts[" ".join(word.split())]
    return kind, today + timedelta(days=delta), extra


def _relative_unit(which: str, unit: str, today: date) -> tuple[str, date, str]:
    unit = unit.lower()
    if unit == "weekend":
        saturday = _monday(today) + timedelta(days=5 + 7 * _offset(which))
        return "weekend", saturday, ""
    if unit in _SEASONS:
        season = "fall" if unit == "autumn" else unit
        year = today.year + _offset(which)
        return "season", date(year, _SEASON_START[season], 1), season
    kind, d = _shift(today, _offset(which), unit)
    return kind, d, ""


def _count(n: str, unit: str, today: date, sign: int) -> tuple[str, date, str]:
    amount = int(n) if n.isdigit() else _NUMBERS[" ".join(n.lower().split())]
    kind, d = _shift(today, sign * amount, unit.lower())
    return kind, d, ""


_SIMPLE = (
    r"the day before yesterday|the day after tomorrow|"
    r"(?:yesterday|tomorrow) (?:morning|afternoon|evening|night)|"
    r"this (?:morning|afternoon|evening)|last night|tonight|yesterday|today|tomorrow"
)
_PATTERN = re.compile(
    rf"\b(?:(?P<simple>{_SIMPLE})"
    rf"|(?P<which>last|previous|this|next|coming) (?P<wunit>week|weekend|month|year|spring|summer|fall|autumn|winter)"
    rf"|(?P<dwhich>last|this|next|coming) (?P<weekday>{'|'.join(WEEKDAYS)})"
    rf"|{_NUM} {_UNIT} ago"
    rf"|in (?P<n2>\d{{1,2}}|a couple of|an?|one|two|three|four|five|six|seven|eight|nine|ten) (?P<unit2>day|week|month|year)s?"
    r")\b(?!['\u2019]s)",
    re.IGNORECASE,
)


def _resolve_match(m: re.Match[str], today: date) -> tuple[str, date, str]:
    if m["simple"]:
        return _simple(m["simple"], today)
    if m["which"]:
        return _relative_unit(m["which"], m["wunit"], today)
    if m["weekday"]:
        return "day", _weekday_relative(today, m["weekday"], m["dwhich"].lower()), ""
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
        kind, d, extra = _resolve_match(m, today)
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
