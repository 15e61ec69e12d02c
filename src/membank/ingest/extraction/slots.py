"""The `SlotDetector` of the extractor: the slot and value a stored sentence states, first or third person.

The slot patterns are written for what a user says ("I moved to Berlin"); stored content is in the third
person ("User moved to Berlin in March 2026", "Alice lives in Lisbon"). The sentence's leading subject is
read off, the sentence turned back into the first person, and the same patterns decide: one table for what
is said and what is stored, so a direct create and a conversation agree on what fills a slot.
"""

from __future__ import annotations

import re

from membank.ingest.extraction import patterns
from membank.ingest.extraction.rewrite import normalise, to_first_person
from membank.memories.slots import OWNER_SUBJECT, SlotFill

__all__ = ["detect_slot"]

_FIRST_PERSON = re.compile(r"^(?:I|I'm|I've|I'd|My|my)\b")
# "User", "The user", or a name ("Alice", "Mary Jane") opening the sentence, before a verb or a possessive.
_SUBJECT = re.compile(r"^(?P<name>(?:[Tt]he )?[Uu]ser|[A-Z][\w-]*(?: [A-Z][\w-]*)?)(?='s\b|\s+[a-z])")


def detect_slot(content: str, user_id: str) -> SlotFill | None:
    """The slot `content` fills in `user_id`'s memories and the value it gives, if the extractor's slot
    patterns find one ("I live in Berlin" -> user/residence = "berlin")."""
    text = normalise(content)
    if _FIRST_PERSON.match(text):
        subject, statement = OWNER_SUBJECT, text
    else:
        m = _SUBJECT.match(text)
        if m is None:
            return None
        name = m["name"]
        subject = OWNER_SUBJECT if name.casefold() in ("user", "the user") else name.casefold()
        statement = to_first_person(text, name)
    found = patterns.slot_value(statement)
    if found is None:
        return None
    attribute, value = found
    normalised = patterns.normalise_value(value)
    return SlotFill(subject, attribute, normalised) if normalised else None
