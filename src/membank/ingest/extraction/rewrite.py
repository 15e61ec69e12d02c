"""First- and second-person text rewritten in the third person ("I moved to Berlin" -> "User moved to Berlin").

Memories are read later, out of context, by someone who is not the speaker: "my sister" must say whose sister.
The rewrite is word-level and conservative: pronouns become the subject's name, the verb right after "I" or
"you" gets its third-person form, and everything else keeps the speaker's own words so keyword search still
finds them. "We" becomes "<Name> and others": it names who we know was there without guessing who else was.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ADVERBS = (
    r"also|just|really|still|usually|always|never|actually|recently|finally|often|sometimes|totally|"
    r"definitely|absolutely|mostly|now|even|only|already|truly|kinda|sorta|currently|generally|rarely|"
    r"too|so|all|(?!(?:apply|reply|rely|fly|supply|comply|multiply|ally|bully)\b)[a-z]+ly"
)
_MODALS = _words("can could will would shall should may might must ought has had was were did is are")
# Past forms, so "I went" stays "went" (not "wents"); regular ones end in -ed and need no listing.
_PAST = _words(
    """went got saw made took had was did felt found thought knew told said came gave bought met left ran began
    became brought taught wrote built kept lost won spent sent heard held sat stood understood slept drove ate
    drank swam sang paid grew drew flew threw chose spoke broke woke wore forgot fell fed led meant caught fought
    sought shot hung lit rode rose shook stole struck swore tore hid bit dug stuck dealt lent bent burnt learnt
    dreamt leapt began sank stank rang sprang knelt wept swept crept fled forgave overcame undertook withdrew
    mistook upheld became arose awoke beheld bore bred clung dove forbade froze ground misunderstood outgrew
    overheard overtook rebuilt retold rewrote sewed shone shrank slid slung spat spun strove strode swung
    """
)
# Words that cannot be the verb after a pronoun: "for you to" must not become "for User tos".
_NOT_VERBS = _words(
    """to and or but a an the for in at on of with from by as if so that than then too is are am was were be
    been being this these those there here it its all both either neither not no yes"""
)
_ING_VERBS = _words("bring sing sting swing cling fling ring spring wring string")
_IRREGULAR_3RD = {
    "have": "has",
    "do": "does",
    "go": "goes",
    "am": "is",
    "are": "is",
    "were": "was",
    "be": "is",
}
_NEGATIONS = {
    "don't": "doesn't",
    "haven't": "hasn't",
    "aren't": "isn't",
    "weren't": "wasn't",
    "dont": "doesn't",
}


def normalise(text: str) -> str:
    """Straight apostrophes and quotes, single spaces: the patterns are written for those."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split())


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z0-9])|(?<=[.!?][\"')])\s+|\s+-\s+(?=[A-Z])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a message, each with its end punctuation."""
    parts: list[str] = []
    for line in text.splitlines():
        parts.extend(p.strip() for p in _SENTENCE_END.split(line) if p.strip())
    return parts


def third_person_verb(word: str) -> str:
    """The verb form that goes with he/she/it ("love" -> "loves", "try" -> "tries", "went" stays)."""
    lower = word.lower()
    if lower in _IRREGULAR_3RD:
        return _IRREGULAR_3RD[lower]
    if lower in _NEGATIONS:
        return _NEGATIONS[lower]
    if (
        lower in _MODALS
        or lower in _PAST
        or "'" in lower
        or (lower.endswith(("ed", "ing")) and lower not in _ING_VERBS)
        or not lower.isalpha()
        or lower in _NOT_VERBS
    ):
        return word
    if lower.endswith(("s", "sh", "ch", "x", "z", "o")):
        return word + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _subject_verb(pronoun: str, name: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{pronoun})\b((?:\s+(?:{_ADVERBS}))*)\s+([A-Za-z]+(?:'[a-z]+)?)\b")


def _rules(name: str, second_person: bool) -> list[tuple[re.Pattern[str], str | None]]:
    """Ordered (pattern, replacement) pairs: contractions first, then bare pronouns."""
    name = name.replace("\\", "\\\\")  # a replacement template: a speaker's name is literal text
    pos = f"{name}'s"
    if second_person:
        subj, cased = r"[Yy]ou", r"[Yy]ou"
        pairs = [
            (rf"\b{cased}'re\b|\b{cased} are\b", f"{name} is"),
            (rf"\b{cased} were\b", f"{name} was"),
            (rf"\b{cased}'ve\b", f"{name} has"),
            (rf"\b{cased}'ll\b", f"{name} will"),
            (rf"\b{cased}'d\b", f"{name} would"),
        ]
        tail = [
            (r"\b[Yy]ourself\b", "themself"),
            (r"\b[Yy]ours\b", pos),
            (r"\b[Yy]our\b", pos),
            (r"\b[Yy]ou\b", name),
        ]
    else:
        subj = r"[Ii]"
        pairs = [
            (r"\b[Ii]'m\b|\b[Ii] am\b", f"{name} is"),
            (r"\b[Ii]'ve\b", f"{name} has"),
            (r"\b[Ii]'ll\b", f"{name} will"),
            (r"\b[Ii]'d(?=\s+(?:been|\w+ed)\b)", f"{name} had"),
            (r"\b[Ii]'d\b", f"{name} would"),
        ]
        tail = [
            (r"\b[Mm]yself\b", "themself"),
            (r"\b[Mm]ine\b", pos),
            (r"\b[Mm]y\b", pos),
            (r"\b[Mm]e\b", name),
            (r"\b[Ww]e're\b|\b[Ww]e are\b", f"{name} and others are"),
            (r"\b[Ww]e've\b", f"{name} and others have"),
            (r"\b[Ww]e'll\b", f"{name} and others will"),
            (r"\b[Ww]e'd\b", f"{name} and others would"),
            (r"\b[Ww]e\b", f"{name} and others"),
            (r"\b[Oo]urselves\b", "themselves"),
            (r"\b[Oo]urs\b", pos),
            (r"\b[Oo]ur\b", pos),
            (r"\b[Uu]s\b", f"{name} and others"),
        ]
    rules: list[tuple[re.Pattern[str], str | None]] = [(re.compile(p), r) for p, r in pairs]
    # None: conjugate the verb (see to_third_person); no text can be mistaken for it, not even a NUL name.
    rules.append((_subject_verb(subj, name), None))
    rules.append((re.compile(rf"\b{subj}\b"), name))
    rules.extend((re.compile(p), r) for p, r in tail)
    return rules


_CACHE: dict[tuple[str, bool], list[tuple[re.Pattern[str], str | None]]] = {}


def to_third_person(sentence: str, name: str, *, second_person: bool = False) -> str:
    """`sentence` with I/me/my (or you/your when `second_person`) replaced by `name`."""
    key = (name, second_person)
    rules = _CACHE.get(key)
    if rules is None:
        rules = _CACHE[key] = _rules(name, second_person)
    text = sentence
    for pattern, replacement in rules:
        if replacement is None:
            text = pattern.sub(lambda m: f"{name}{m[1]} {third_person_verb(m[2])}", text)
        else:
            text = pattern.sub(replacement, text)
    return text[:1].upper() + text[1:]


_BASE_FORMS = {"has": "have", "does": "do", "goes": "go", "is": "am", "was": "was"}
_FIRST_PERSON_NEGATIONS = {"doesn't": "don't", "hasn't": "haven't", "isn't": "am not", "wasn't": "wasn't"}


def base_verb(word: str) -> str:
    """The verb form that goes with I, from the one that goes with he/she ("lives" -> "live")."""
    lower = word.lower()
    if lower in _BASE_FORMS:
        return _BASE_FORMS[lower]
    if lower in _FIRST_PERSON_NEGATIONS:
        return _FIRST_PERSON_NEGATIONS[lower]
    if not lower.isalpha() or lower in _NOT_VERBS or lower in _MODALS or not lower.endswith("s"):
        return word
    if lower.endswith("ies") and len(lower) > 4:
        return word[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return word[:-2]
    return word[:-1]


def to_first_person(sentence: str, name: str) -> str:
    """`sentence` about `name` told by them ("User moved to Berlin" -> "I moved to Berlin"): the inverse of
    `to_third_person` for its subject, so first-person patterns read stored content too."""
    who = re.escape(name)
    text = re.sub(rf"\b{who}'s\b", "my", sentence)
    verb = re.compile(rf"\b{who}\b((?:\s+(?:{_ADVERBS}))*)\s+([A-Za-z]+(?:'[a-z]+)?)\b")
    text = verb.sub(lambda m: f"I{m[1]} {base_verb(m[2])}", text)
    return re.sub(rf"\b{who}\b", "I", text)
