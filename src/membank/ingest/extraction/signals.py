"""Sentence signals of the heuristic extractor: questions, small talk, informativeness, kind and entities.

Casual chat is mostly reactions ("That's awesome!") and questions; a memory store filled with them buries the
few sentences that say something about the speaker. Informativeness counts what search can later match on:
content words, names, numbers and dates; affect words ("awesome", "happy") count for nothing.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _words(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves i'm i've i'd i'll
    it's that's there's what's don't didn't can't won't isn't wasn't you're you've you'd you'll we're we've let's
    really lot lots thing things stuff something anything everything way much many get got getting go going gone
    gonna wanna kinda yeah yes yep oh ok okay well like know think thought feel felt make made one even still
    though actually definitely totally always never sure maybe bit pretty right time times day days good great
    new big little back again every kind sort mean means said say says tell told see seen look looks looking
    keep kept want wanted need needed try trying tried thanks thank hey hi hello wow cool nice awesome"""
)
AFFECT = _words(
    """amazing awesome great cool nice wonderful fantastic incredible beautiful lovely sweet happy glad sad sorry
    proud excited exciting fun funny love loved lovely inspiring inspired powerful special blessed grateful
    thankful appreciate appreciated means meant cute adorable gorgeous stunning impressive brave strong tough
    hard glad stoked thrilled super totally absolutely really truly rad neat sounds seems awesome best worst
    congrats congratulations luck hope hoping wish care support supportive rewarding fulfilling vibe vibes
    feeling feelings heart kind kindness journey"""
)
# An auxiliary opens a question only when the subject follows it ("Do you ...", "Is it ..."); without one it
# opens a casual statement that dropped its subject ("Can't wait to ...", "Don't feel like ...", "Had a blast").
_QUESTION_OPENER = re.compile(
    r"^(?:so,? |and,? |but,? |oh,? |hey,? |btw,? |anyway,? )?(?:(?:what|how|why|where|when|who|whom|which|whose|"
    r"any|anything|ever|wanna|what's|how's|who's|where's|tell me|i wonder|i was wondering|"
    r"mind if|care to|got any|please|help me|remind me|show me|give me|recommend|suggest|explain|write me|"
    r"list|find me|let me know|i need you to|i want you to|i'd like you to)\b|"
    r"(?:do|does|did|are|is|was|were|can|could|would|will|should|shall|have|has|had|may|might|"
    r"isn't|aren't|don't|didn't|doesn't|won't|can't|couldn't|wouldn't|shouldn't|haven't|hasn't|wasn't|weren't)"
    r"\s+(?:i|you|u|ya|we|they|he|she|it|there|this|that|these|those|your|my|his|her|our|their|the|a|an|any|"
    r"anyone|anybody|someone|somebody|everyone|everybody|people)\b)",
    re.IGNORECASE,
)
_SMALL_TALK = re.compile(
    r"^(?:hi|hey|hello|yo|hiya|good (?:morning|afternoon|evening|night)|thanks|thank you|thx|bye|goodbye|"
    r"see you|see ya|talk (?:to you )?(?:soon|later)|take care|cheers|good luck|you too|me too|same here|"
    r"congrats|congratulations|nice to (?:meet|see|hear)|glad to hear|sorry to hear|happy for you|"
    r"have a (?:good|great|nice)|enjoy|catch you|ttyl|lol|haha|hehe)\b",
    re.IGNORECASE,
)
_INTERJECTION = re.compile(
    r"^(?:(?:oh|ooh|oof|ugh|aww|gosh|dude|man|wow|whoa|yeah|yes|yep|yup|no|nope|ok|okay|sure|well|so|haha|lol|omg|aw+|hmm+|ah|hey|wait|actually|sorry|"
    r"totally|absolutely|definitely|exactly|right|true|cool|nice|great|awesome)[,!.]*\s+"
    # "Thanks, Mel! ..." opens a statement; "Thanks for the tip!" is the whole thought (small talk)
    r"|thanks[,!.]+\s+)+",
    re.IGNORECASE,
)
# Discourse framing says how a statement relates to the talk, not what it states: "As I said, I live in
# Berlin" states "I live in Berlin", and "Big news:" must not reach a memory.
_SAID = r"(?:said|mentioned|told you|wrote|explained)(?: (?:before|earlier|already|last time|yesterday))?"
_FRAMING = re.compile(
    rf"^(?:and,? |so,? |but )?(?:(?:as|like) (?:i|i've|i have) (?:already )?{_SAID}|by the way|guess what|you know what|"
    r"just so you know|just to let you know|(?:just )?fyi|btw|for the record|in case you forgot|"
    r"(?:and )?(?:remember|don't forget)(?: that)?|oh,? and|and also|anyway|anyways|"
    r"(?:(?:big|good|great|bad|sad|exciting|some) )?news|(?:quick |small |little )?update|fun fact|"
    r"(?:just a |quick )?reminder|side note|heads up)(?:[,:;!.-]+\s+|\s+-\s+|\s+(?=i\b|i'|my\b))"
    # a conjunction that only links the statement to what was said before it ("Oh, and I work at Acme")
    r"|^(?:and|also|plus|so|but),?\s+(?=i\b|i'|my\b)",
    re.IGNORECASE,
)
_TRAILING_FRAMING = re.compile(
    rf",\s*(?:(?:as|like) (?:i|i've|i have) (?:already )?{_SAID}|by the way|btw|fyi|remember\?*|"
    r"you know)(?=[.!?]*$)",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(
    r"\b(?:I|I'm|I've|I'd|I'll|my|me|mine|myself|we|we're|we've|our|us)\b", re.IGNORECASE
)
_SECOND_PERSON_START = re.compile(r"^(?:you|your|you're|you've|you'd|you'll)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+")
_NUMBER = re.compile(r"\b\d+\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twenty|hundred)\b", re.I)
_DATE_WORDS = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|last|next|ago|weekend|week|month|year|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|january|february|march|april|june|july|august|september|october|"
    r"november|december|summer|winter|spring)\b",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"\b[A-Z][\w'&-]*(?:\s+(?:(?:of|the|&|de|du|von|van)\s+){0,2}[A-Z][\w'&-]*)*")
_NOT_ENTITIES = _words(
    """I I'm I've I'd I'll User Assistant The A An My Our We It This That These Those He She They You Your And But
    So Oh Hey Hi Wow Yeah Yes No Ok Okay Thanks Thank Well Also Just Really What When Where Why How Who Which
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August
    September October November December Mom Dad Lol Haha Omg Btw"""
)
KEY_OBJECTS = re.compile(
    r"\bmy (?:new |little |old |two |three )?(?P<noun>dog|dogs|cat|cats|puppy|kitten|pet|pets|kids|kid|children|son|"
    r"daughter|wife|husband|partner|girlfriend|boyfriend|mom|mother|dad|father|sister|brother|grandma|"
    r"grandmother|grandpa|grandfather|family|car|house|bike|guitar|piano|garden|business|band|book|novel|"
    r"painting|paintings|project|startup|company|team|job|degree|thesis|baby)\b",
    re.IGNORECASE,
)

_KINDS = (
    (
        "personal",
        8,
        r"\b(?:allerg\w*|diagnos\w*|diabet\w*|asthma|surgery|pregnan\w*|cancer|illness|disease|disorder|"
        r"medication|injur\w*|hospital\w*|therapy|depress\w*|anxiety|transgender|trans|gay|lesbian|bisexual|"
        r"queer|nonbinary|non-binary|religio\w*|christian|muslim|jewish|buddhist)\b",
    ),
    (
        "event",
        5,
        r"\b(?:will|'ll|going to|gonna|plan\w*|hoping to|hope to|want to|intend\w*|about to|looking forward|"
        r"can't wait|next|tomorrow|upcoming|soon)\b",
    ),
    (
        "preference",
        5,
        r"\b(?:love|loves|like|likes|enjoy\w*|favou?rite|prefer\w*|hate|hates|dislike\w*|into|passion\w*|"
        r"fan of|obsessed)\b",
    ),
    (
        "relationship",
        5,
        r"\b(?:mom|mother|dad|father|sister|brother|son|daughter|kids|children|wife|husband|partner|"
        r"girlfriend|boyfriend|friend|friends|grandma|grandpa|grandmother|grandfather|cousin|aunt|uncle|family)\b",
    ),
)
_PAST = re.compile(
    r"\b(?:\w+ed|went|got|saw|made|took|had|was|were|did|met|bought|ran|began|became|found|gave)\b"
)


def strip_interjections(sentence: str) -> str:
    """`sentence` without leading "Yeah, " / "Wow, Caroline! " noise and discourse framing ("Oh, and by the
    way, as I said, ..." / "..., as I said.")."""
    text = _TRAILING_FRAMING.sub("", sentence.strip())
    while True:
        stripped = _FRAMING.sub("", _INTERJECTION.sub("", text)).strip()
        if stripped == text:
            return text
        text = stripped


def is_question(sentence: str) -> bool:
    """A question, with or without its question mark ("what do you think about ...")."""
    return sentence.rstrip().endswith("?") or bool(_QUESTION_OPENER.match(sentence))


def statement_part(sentence: str) -> str | None:
    """The statement in a sentence that ends in a question ("I just moved to Berlin, any tips?")."""
    if _QUESTION_OPENER.match(sentence):
        return None
    head = re.split(r",|;|\s-\s", sentence.rstrip("?! "))[:-1]
    text = ",".join(head).strip()
    return text if text and _FIRST_PERSON.search(text) else None


def is_small_talk(sentence: str) -> bool:
    """Greetings, thanks, goodbyes and wishes: nothing to remember."""
    return bool(_SMALL_TALK.match(sentence))


def addresses_listener(sentence: str) -> bool:
    """About the other party ("You'd be a great counselor!"), not the speaker."""
    return bool(_SECOND_PERSON_START.match(sentence)) and not _FIRST_PERSON.search(sentence)


def first_person(sentence: str) -> bool:
    """Says something about the speaker (I, my, we ...)."""
    return bool(_FIRST_PERSON.search(sentence))


def informativeness(sentence: str, names: frozenset[str] = frozenset()) -> float:
    """Roughly how much a later search could match on: content words, names, numbers, dates."""
    words = _WORD.findall(sentence)
    content = [w for w in words if len(w) > 2 and w.lower() not in STOPWORDS and w.lower() not in AFFECT]
    proper = [w for w in words[1:] if w[0].isupper() and w not in _NOT_ENTITIES and w not in names]
    score = float(len(content)) + 1.0 * len(proper)
    if _NUMBER.search(sentence) or _DATE_WORDS.search(sentence):
        score += 1.5
    if first_person(sentence):
        score += 1.0
    return score


def kind(sentence: str) -> tuple[str, int]:
    """memory_type and importance of a generic first-person statement."""
    for memory_type, importance, pattern in _KINDS:
        if re.search(pattern, sentence, re.IGNORECASE):
            return memory_type, importance
    if _PAST.search(sentence):
        return "episodic", 4
    return "personal", 4


def entities(sentence: str, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Capitalised names (people, places, organisations, pets) and key objects, deduplicated, in order."""
    found: list[str] = []
    for m in _ENTITY.finditer(sentence):
        words = m[0].removesuffix("'s").split()
        if m.start() == 0 or sentence[: m.start()].rstrip().endswith((".", "!", "?", '"')):
            words = words[1:]  # sentence-initial capitals say nothing about being a name
        while words and words[0] in _NOT_ENTITIES:
            words = words[1:]
        name = " ".join(words)
        if name and name not in _NOT_ENTITIES and name.lower() not in exclude and name not in found:
            found.append(name)
    for m in KEY_OBJECTS.finditer(sentence):
        noun = m["noun"].lower()
        if noun not in found:
            found.append(noun)
    return found


# Words a question is made of that say nothing about its topic ("What have you been up to lately?").
_QUESTION_NOISE = _words(
    """ask asked asking happen happens happening happened else lately recently usually often ever another whats
    hows come comes coming came take takes taking took doing done plans plan guys anyone anybody someone
    somebody remember must show help find start part general around far since pic pics picture pictures
    photo photos long mostly basically anyway decide"""
)
_LISTENER = _words("you u ya yourself you're you've you'd you'll i me we us our ours ourselves")
# Kept between two content words so a topic stays readable ("trip to Paris", "book of poems").
_BRIDGES = _words("of to in at for with from on and about")
_ARTICLES = _words("a an the")
_FUNCTION = _BRIDGES | _ARTICLES
_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")


def _term(word: str, answerer: str, asker: str | None, names: frozenset[str]) -> str | None:
    """`word` as a key term of a question (resolved to a third-person name where it is a possessive), or None
    for a function word."""
    lower = word.lower()
    if "'" in lower and lower.split("'")[0] in STOPWORDS:
        return None  # "How's", "What're"
    if lower in ("your", "yours"):
        return f"{answerer}'s"
    if lower in ("my", "mine"):
        return f"{asker}'s" if asker else None
    if (
        lower in _LISTENER
        or lower in names
        or lower in STOPWORDS
        or lower in AFFECT
        or lower in _QUESTION_NOISE
    ):
        return None
    return word if len(word) > 2 or word.isdigit() else None


def _phrases(question: str, answerer: str, asker: str | None, names: frozenset[str]) -> list[list[str]]:
    """Runs of key terms of `question`, a bridge ("to", "from the") kept between two of them."""
    phrases: list[list[str]] = []
    run: list[str] = []
    bridge: list[str] = []
    for word in _TERM.findall(question):
        term = _term(word, answerer, asker, names)
        lower = word.lower()
        if term is not None:
            run.extend([*bridge, term])
            bridge = []
        elif run and ((lower in _BRIDGES and not bridge) or (lower in _ARTICLES and len(bridge) == 1)):
            bridge.append(lower)
        else:
            if run:
                phrases.append(run)
            run, bridge = [], []
    if run:
        phrases.append(run)
    return phrases


def _stems(word: str) -> frozenset[str]:
    """`word` and its forms without an inflection, so "working" says "work" and "lives" says "live"."""
    word = word.lower().removesuffix("'s")
    return frozenset(
        [word]
        + [
            word[: -len(end)]
            for end in ("ing", "ed", "es", "s", "d")
            if word.endswith(end) and len(word) > len(end) + 2
        ]
    )


def _possessive_only(phrase: list[str]) -> bool:
    return len(phrase) == 1 and phrase[0].endswith("'s")


def question_terms(
    question: str,
    answerer: str,
    asker: str | None = None,
    *,
    names: frozenset[str] = frozenset(),
    known: str = "",
    max_words: int = 10,
) -> str:
    """The topic of `question` in a few words and the third person: "How was your trip to Paris?" asked of
    Caroline -> "Caroline's trip to Paris". Question words, stopwords and speaker names are dropped, and so
    is a phrase whose every word `known` (the text it is added to) already holds; "" when nothing is left."""
    seen = {stem for w in _TERM.findall(known) for stem in _stems(w)}
    kept: list[list[str]] = []
    room = max_words
    for phrase in _phrases(question, answerer, asker, names):
        content = [_stems(w) for w in phrase if w.lower() not in _FUNCTION and not w.endswith("'s")]
        if room <= 0 or _possessive_only(phrase) or all(stems & seen for stems in content):
            continue
        seen.update(stem for stems in content for stem in stems)
        words = phrase[:room]
        while words and (words[-1] in _FUNCTION or words[-1].endswith("'s")):
            words.pop()
        if words:
            kept.append(words)
            room -= len(words)
    return ", ".join(" ".join(words) for words in kept)
