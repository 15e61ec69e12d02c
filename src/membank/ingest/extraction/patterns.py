"""Pattern tables of the heuristic extractor: exclusive slots, retractions and kinds of fact.

Patterns run on one normalised first-person sentence ("I moved to Berlin"), before the third-person rewrite,
because the speaker's own phrasing is the most regular. Slot names are part of the contract with
consolidation: a new fact supersedes only stored facts of the same subject and slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The slot names consolidation may rely on (favorite_<thing> is open-ended, e.g. favorite_color).
SLOTS = (
    "residence",
    "origin",
    "employer",
    "job_title",
    "relationship_status",
    "partner",
    "age",
    "name",
    "diet",
    "birthday",
    "favorite_<thing>",
)

_I = r"\b[Ii]"
_IM = r"\b[Ii](?:'m| am)"
_ADV = r"(?:(?:just|recently|finally|now|currently|still|also|actually|officially|originally|happily) )*"
_VALUE = r"(?P<v>[^,.;!?]+?)"  # the rest of the clause, lazily
_END = r"(?=\s*(?:[,.;!?]|$|\s-\s|\s(?:but|because|since|so|and now|which|where|last|next|this|yesterday|today)\b))"
_PROPER = r"(?P<v>(?:the )?[A-Z][\w&'.-]*(?:\s+(?:of |and |& )?[A-Z][\w&'.-]*)*)"
PROFESSIONS = (
    "teacher|nurse|doctor|physician|surgeon|engineer|software engineer|developer|software developer|programmer|"
    "designer|lawyer|attorney|accountant|writer|author|artist|painter|musician|singer|chef|cook|student|manager|"
    "consultant|scientist|data scientist|researcher|therapist|counselor|counsellor|psychologist|pharmacist|"
    "dentist|architect|photographer|journalist|firefighter|police officer|cop|pilot|mechanic|electrician|"
    "plumber|carpenter|farmer|waiter|waitress|barista|cashier|salesperson|analyst|professor|librarian|"
    "veterinarian|vet|social worker|entrepreneur|freelancer|nanny|paramedic|soldier|veteran|banker|"
    "translator|editor|producer|director|actor|actress|dancer|coach|trainer|personal trainer|intern|"
    "receptionist|secretary|driver|truck driver|baker|tailor|hairdresser|stylist|real estate agent|"
    "marketing manager|product manager|project manager|sales manager|nurse practitioner|CEO|CTO|founder"
)
_PROFESSION = rf"(?P<v>(?:[a-z-]+ )?(?:{PROFESSIONS}))\b"


@dataclass(frozen=True, slots=True)
class Slot:
    """An exclusive attribute pattern: a match means "the subject's <attribute> is now this"."""

    attribute: str
    pattern: re.Pattern[str]
    memory_type: str
    importance: int


def _slot(attribute: str, pattern: str, memory_type: str = "personal", importance: int = 7) -> Slot:
    # Case-insensitive, except the (?-i:...) groups that want a capitalised name (places, companies).
    return Slot(attribute, re.compile(pattern, re.IGNORECASE), memory_type, importance)


SLOT_PATTERNS = (
    _slot(
        "residence",
        rf"{_I}(?:'ve| have)? {_ADV}(?:moved|relocated)(?: back)? (?:from [^,.;!?]+? )?to {_VALUE}{_END}",
    ),
    _slot("residence", rf"{_I} {_ADV}live in {_VALUE}{_END}"),
    _slot("residence", rf"{_IM} {_ADV}(?:living|based|settled) in {_VALUE}{_END}"),
    _slot("residence", rf"\bmy (?:home|house|apartment|flat|place) is in {_VALUE}{_END}"),
    _slot("origin", rf"{_IM} {_ADV}from (?-i:{_PROPER})"),
    _slot("origin", rf"{_I} {_ADV}(?:come from|grew up in|was born in) {_VALUE}{_END}"),
    _slot("employer", rf"{_I} {_ADV}work (?:at|for) {_VALUE}{_END}"),
    _slot(
        "employer",
        rf"{_I}(?:'ve| have)? {_ADV}(?:joined|started (?:working )?at|got hired (?:at|by)|was hired by) (?-i:{_PROPER})",
    ),
    _slot("employer", rf"{_I} {_ADV}got (?:a|the|my) (?:new )?job (?:at|with) {_VALUE}{_END}"),
    _slot("employer", rf"{_IM} {_ADV}(?:employed by|working (?:at|for)) {_VALUE}{_END}"),
    _slot("job_title", rf"{_I} {_ADV}work as (?:an? )?{_VALUE}{_END}"),
    _slot("job_title", rf"{_IM} {_ADV}(?:working as )?(?:an?|the) {_PROFESSION}"),
    _slot("job_title", rf"{_I} {_ADV}(?:became|got a job as|was promoted to) (?:an? )?{_VALUE}{_END}"),
    _slot("job_title", rf"\bmy (?:job|profession|occupation) is (?:an? )?{_VALUE}{_END}"),
    _slot(
        "relationship_status",
        rf"{_IM} {_ADV}(?:(?:happily|newly) )?(?P<v>married|single|divorced|engaged|widowed|separated|in a relationship)\b",
        "relationship",
    ),
    _slot("relationship_status", rf"{_I} {_ADV}got (?P<v>married|engaged|divorced)\b", "relationship"),
    _slot("relationship_status", rf"{_I} {_ADV}(?P<v>broke up) with\b", "relationship"),
    _slot(
        "partner",
        r"\bmy (?:wife|husband|partner|girlfriend|boyfriend|fianc[eé]e?|spouse)(?:'s name is| is (?:called|named)|,?) (?-i:(?P<v>[A-Z][a-z]+))\b",
        "relationship",
    ),
    _slot(
        "age",
        rf"{_IM} (?P<v>\d{{1,3}})(?: years? old| yrs? old| y/?o)?(?![\w%])(?!\s*(?:minutes|miles|km|times|percent|hours))",
    ),
    _slot("age", rf"{_I} {_ADV}turned (?P<v>\d{{1,3}})\b"),
    _slot("name", r"\bmy name is (?-i:(?P<v>[A-Z][a-z]+(?: [A-Z][a-z]+)?))", importance=8),
    _slot("name", r"\bcall me (?-i:(?P<v>[A-Z][a-z]+))", importance=8),
    _slot(
        "diet",
        rf"{_IM} {_ADV}(?:an? )?(?P<v>vegetarian|vegan|pescatarian|pescetarian|gluten[- ]free|lactose[- ]intolerant|on a [\w-]+ diet|keto)\b",
        "preference",
        8,
    ),
    _slot("birthday", rf"\bmy birthday is {_VALUE}{_END}", importance=6),
)
# "my favorite color is blue" -> favorite_color; the slot name is built from the matched thing.
FAVORITE = re.compile(
    r"(?<!one of )(?<!some of )\bmy (?:absolute |all[- ]time |new )?favou?rite (?P<thing>[a-z]+(?: [a-z]+)?) (?:is|are|has to be|would be|was) (?P<v>[^,.;!?]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Retraction:
    """A sentence that ends a fact: `statement` is the retracted fact, still in the first person."""

    statement: str
    attribute: str | None


_FORGET = re.compile(
    r"^(?:(?:please|ok|okay|also|and|actually|oh),? )*(?:(?:can|could|would|will) you (?:please )?)?(?:please )?"
    r"(?:forget|delete|remove|erase|disregard)(?: (?:about|that|the fact that|what i said about))? (?P<rest>.+?)[.!?]*$",
    re.IGNORECASE,
)
_NO_LONGER = re.compile(rf"{_I} no longer (?P<rest>[^,.;!?]+?)(?: anymore| any more)?{_END}", re.IGNORECASE)
_DONT_ANYMORE = re.compile(rf"{_I} (?:don't|do not) (?P<rest>[^,.;!?]+?) any ?more{_END}", re.IGNORECASE)
_NOT_ANYMORE = re.compile(
    rf"{_IM} (?:no longer|not) (?P<rest>[^,.;!?]+?)(?: anymore| any more){_END}", re.IGNORECASE
)
_IM_NO_LONGER = re.compile(rf"{_IM} no longer (?P<rest>[^,.;!?]+?){_END}", re.IGNORECASE)
_QUIT_JOB = re.compile(
    rf"{_I} {_ADV}(?:quit|left|resigned from|got fired from|was fired from|lost) my (?:job|position|role)(?: (?:at|with) (?P<org>[^,.;!?]+?))?{_END}",
    re.IGNORECASE,
)
_QUIT_ORG = re.compile(rf"{_I} {_ADV}(?:quit|left|resigned from) (?-i:{_PROPER})", re.IGNORECASE)
_STOPPED = re.compile(
    rf"{_I} {_ADV}(?:stopped|quit|gave up) (?P<verb>[a-z]+ing)\b(?P<rest>[^,.;!?]*)", re.IGNORECASE
)
_SLOT_NOUNS = {
    "address": "residence",
    "home address": "residence",
    "job": "employer",
    "employer": "employer",
    "age": "age",
    "birthday": "birthday",
    "name": "name",
    "diet": "diet",
}


def base_form(gerund: str) -> str:
    """ "eating" -> "eat", "smoking" -> "smoke", "running" -> "run" (good enough for common verbs)."""
    stem = gerund[:-3]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    vowels = "aeiou"
    if len(stem) >= 3 and stem[-1] not in vowels + "wxy" and stem[-2] in vowels and stem[-3] not in vowels:
        return stem + "e"
    return stem


def slot_value(statement: str) -> tuple[str, str] | None:
    """The slot a first-person statement fills and the value it gives it ("I live in Paris" ->
    ("residence", "Paris")), if any."""
    for slot in SLOT_PATTERNS:
        m = slot.pattern.search(statement)
        if m:
            return slot.attribute, m["v"].strip()
    favorite = FAVORITE.search(statement)
    return (favorite_slot(favorite["thing"]), favorite["v"].strip()) if favorite else None


def slot_of(statement: str) -> str | None:
    """The slot a first-person statement fills, if any ("I live in Paris" -> "residence")."""
    found = slot_value(statement)
    return found[0] if found else None


_MONTH_NAMES = "january|february|march|april|may|june|july|august|september|october|november|december"
# What may follow a value without changing it: when it became true ("in March 2026", "last week", "since
# 2020") or how the speaker feels about it ("now", "again", "for good").
_VALUE_TAIL = re.compile(
    r"\s+(?:now|again|too|already|still|currently|anymore|any more|as well|these days|at the moment|"
    r"for good|for now|permanently|right now|by now|"
    rf"(?:since|from|until|as of|starting|in|on|during) (?:(?:early|late|mid|the) )?(?:{_MONTH_NAMES}|\d|"
    r"spring|summer|fall|autumn|winter|the (?:week|weekend|night|morning|afternoon|evening)\b)|"
    r"(?:the (?:week|weekend) of|last|next|this|yesterday|today|tonight|recently|lately|a while ago|"
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of|couple of) "
    r"(?:day|week|month|year)s? ago)\b).*$",
    re.IGNORECASE,
)


def normalise_value(value: str) -> str:
    """A slot value as compared: case-folded, without the words that say when or how it came to be
    ("Berlin now", "berlin in March 2026", "the Berlin" -> "berlin")."""
    text = " ".join(value.casefold().split()).strip(" \"'.,;:!?()")
    text = _VALUE_TAIL.sub("", text)
    return text.removeprefix("the ").strip(" \"'.,;:!?()")


def favorite_slot(thing: str) -> str:
    """ "favorite_color" from "color"."""
    return "favorite_" + "_".join(thing.lower().split())


def _forget(sentence: str) -> Retraction | None:
    m = _FORGET.search(sentence)
    if m is None:
        return None
    rest = m["rest"]
    noun = re.fullmatch(r"my (?P<noun>[a-z ]+)", rest, re.IGNORECASE)
    attribute = _SLOT_NOUNS.get(noun["noun"].lower()) if noun else slot_of(rest)
    return Retraction(rest, attribute)


def is_forget(sentence: str) -> bool:
    """A request to forget something ("please forget my address")."""
    return _FORGET.search(sentence) is not None


def retraction(sentence: str) -> Retraction | None:
    """What `sentence` retracts, if it retracts anything ("I no longer work at Acme" -> "I work at Acme")."""
    found = _forget(sentence)
    if found:
        return found
    m = _QUIT_JOB.search(sentence)
    if m:
        return Retraction(f"I work at {m['org']}" if m["org"] else "I have a job", "employer")
    m = _QUIT_ORG.search(sentence)
    if m and not re.match(r"(?:the )?(?:house|home|town|city|country|party)\b", m["v"], re.IGNORECASE):
        return Retraction(f"I work at {m['v']}", "employer")
    for pattern, prefix in (
        (_NOT_ANYMORE, "I am"),
        (_IM_NO_LONGER, "I am"),
        (_NO_LONGER, "I"),
        (_DONT_ANYMORE, "I"),
    ):
        m = pattern.search(sentence)
        if m:
            statement = f"{prefix} {m['rest']}"
            return Retraction(statement, slot_of(statement))
    m = _STOPPED.search(sentence)
    if m:
        statement = f"I {base_form(m['verb'].lower())}{m['rest']}"
        return Retraction(statement, None)
    return None
