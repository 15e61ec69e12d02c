"""The heuristic extraction tier: offline, deterministic, always available.

Each new turn is cut into sentences; questions, greetings and reactions are dropped; what is left is read in
the speaker's own first-person words. A sentence that retracts something ("I no longer work at Acme") or fills
an exclusive slot ("I moved to Berlin") becomes its own fact with that slot, so consolidation can supersede
exactly the old value. The turn's other informative sentences become one merged fact, rewritten in the third
person with relative dates made absolute: one memory per informative turn keeps the store small without
dropping the words a later search will look for. Assistant turns, however the client labels them, count only
where they state a fact about the user ("Got it, you're vegetarian", "You mentioned you moved to Porto"); a
user's "yes" to a question about them confirms it as a fact (the rule is authorship.py's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

import structlog

from membank.ingest.extraction import patterns, signals
from membank.ingest.extraction.authorship import (
    about_user,
    assistant_turns,
    confirmed_proposal,
    keep_user_facts,
    user_name,
)
from membank.ingest.extraction.dates import resolve
from membank.ingest.extraction.ports import (
    CandidateFact,
    Conversation,
    ExtractionResult,
    SkippedTurn,
    Turn,
)
from membank.ingest.extraction.rewrite import normalise, split_sentences, to_third_person

__all__ = ["HeuristicExtractor"]

log = structlog.get_logger(__name__)
ERROR_CHARS = 160

# Casual turns drop the subject ("Gonna continue my edu", "Just got back from Rome"): give it back.
_SUBJECTLESS = (
    (re.compile(r"^(?:gonna|going to|planning to|hoping to|about to|off to|heading to)\b", re.I), "I'm "),
    (re.compile(r"^been (?=a (?:few|couple|while|long)|ages|forever|so long|too long)", re.I), "It's "),
    (re.compile(r"^(?:been)\b", re.I), "I've "),
    (
        re.compile(
            r"^(?:just (?=\w+ed\b|got\b|made\b|took\b|bought\b|saw\b|had\b))?(?:went|got|started|finished|took|made|bought|spent|visited|tried|had|saw)\b",
            re.I,
        ),
        "I ",
    ),
)
_DAY_KINDS = ("event", "episodic")
_STATED_KINDS = frozenset({"preference", "relationship"})
_STATED_BONUS = 3.0
_VITAL = 8


@dataclass(slots=True)
class _Speaker:
    """Who a turn's facts are about and how content names them."""

    name: str  # as written in content: "Caroline" or "User"
    subject: str  # normalised: "caroline" or "user"
    speaker: str  # who said it: "Caroline", "user", "assistant"
    sources: list[int]
    timestamp: datetime
    exclude: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True)
class _Generic:
    text: str
    score: float


def _add_subject(sentence: str) -> str:
    for pattern, prefix in _SUBJECTLESS:
        if pattern.match(sentence):
            return prefix + sentence[0].lower() + sentence[1:]
    return sentence


_CLAUSE = re.compile(
    r"(?:,|;)?\s+(?:and|but|plus)\s+(?=(?:I|I'm|I've|my|My)\b)|;\s+(?=(?:I|I'm|I've|my|My)\b)"
)


_VOCATIVE = re.compile(r"^(?P<name>[A-Z][a-z]+)[,!]\s+(?P<rest>.+)")
_NAME_ONLY = re.compile(r"^(?P<name>[A-Z][a-z]+)[,!.]*$")
_TRAILING_VOCATIVE = re.compile(r",\s*(?P<name>[A-Z][a-z]+)(?P<end>[!.?]*)$")


def _unaddressed(sentence: str, names: frozenset[str]) -> str:
    """`sentence` without the listener's name in front ("James, been a few days ...") or at the end ("It was
    an awesome time, Caroline!"); nothing is left of a sentence that only names them ("Thanks, Caroline!")."""
    alone = _NAME_ONLY.match(sentence)
    if alone and alone["name"].lower() in names:
        return ""
    end = _TRAILING_VOCATIVE.search(sentence)
    if end and end["name"].lower() in names:
        sentence = sentence[: end.start()] + end["end"]
    m = _VOCATIVE.match(sentence)
    if m and (m["name"].lower() in names or m["rest"][0].islower()):
        return m["rest"]
    return sentence


def _statements(sentence: str, names: frozenset[str]) -> list[str]:
    """The first-person statements in `sentence`, one per clause with its own subject."""
    text = _statement(_unaddressed(signals.strip_interjections(sentence), names))
    return [c.strip() for c in _CLAUSE.split(text) if c.strip()] if text else []


def _statement(sentence: str) -> str | None:
    """The first-person statement in `sentence`, or None for questions, greetings and reactions."""
    text = signals.strip_interjections(sentence)
    if not text or signals.is_small_talk(text):
        return None
    if patterns.is_forget(text):
        return text  # "Can you forget my address?" asks for a retraction
    if signals.is_question(text):
        part = signals.statement_part(text)
        if part is None:
            return None
        text = part
    if signals.addresses_listener(text):
        return None
    return _add_subject(text)


class HeuristicExtractor:
    """Offline extractor: pattern tables for slots and retractions, an informativeness gate for the rest."""

    name = "heuristic"

    def __init__(
        self,
        *,
        min_turn_score: float = 5.0,
        min_sentence_score: float = 3.0,
        min_context_score: float = 1.0,
        max_sentences: int = 6,
    ):
        # A turn earns a memory through its informative sentences (the gate); once it has one, its weaker
        # sentences ride along as context, since they often hold the very word a question asks about.
        self.min_turn_score = min_turn_score
        self.min_sentence_score = min_sentence_score
        self.min_context_score = min_context_score
        self.max_sentences = max_sentences

    async def extract(self, conversation: Conversation) -> ExtractionResult:
        """Candidate facts of the conversation's new turns, in turn order; a turn that fails is skipped
        and reported, the others are extracted."""
        names = _names(conversation)
        by_assistant = assistant_turns(conversation)
        facts: list[CandidateFact] = []
        skipped: list[SkippedTurn] = []
        for turn in conversation.new_turns:
            try:
                facts.extend(self._turn(conversation, turn, names, by_assistant))
            except Exception as exc:  # one message's text must cost that message, never the conversation
                log.warning("extraction.turn_failed", turn=turn.index, error=type(exc).__name__)
                skipped.append(SkippedTurn(turn.index, _error_text(exc)))
        facts, over_budget = keep_user_facts(facts, conversation)
        return ExtractionResult(facts, extractor=self.name, rejected=over_budget, skipped=skipped)

    def extract_facts(self, conversation: Conversation) -> list[CandidateFact]:
        """The synchronous core of `extract` (pure CPU, a fraction of a millisecond per turn); raises
        what a turn raises."""
        names = _names(conversation)
        by_assistant = assistant_turns(conversation)
        facts = [
            fact
            for turn in conversation.new_turns
            for fact in self._turn(conversation, turn, names, by_assistant)
        ]
        return keep_user_facts(facts, conversation)[0]

    def _turn(
        self, conversation: Conversation, turn: Turn, names: frozenset[str], by_assistant: frozenset[int]
    ) -> list[CandidateFact]:
        if turn.role == "system":
            return []
        previous = conversation.turns[turn.index - 1] if turn.index > 0 else None
        answers_other = previous is not None and _other_party(previous, turn, by_assistant)
        sources = [turn.index]
        if previous is not None and answers_other and "?" in previous.content:
            sources.insert(0, previous.index)
        if turn.index in by_assistant:
            # Whatever the role label says, only what the assistant states about the user (its own turn is
            # the source, so keep_user_facts holds it to the turn's budget).
            name = user_name(conversation, turn.index, by_assistant)
            who = _Speaker(
                name, name.lower(), turn.speaker or "assistant", [turn.index], turn.timestamp, names
            )
            # Each statement earns its fact alone: two weak ones ("you're welcome", "you're all set") must
            # not add up to a memory of something the user never said.
            return [fact for said in about_user(turn.content) for fact in self._facts([said], who)]
        name = turn.speaker or "User"
        who = _Speaker(name, name.lower(), turn.speaker or "user", sources, turn.timestamp, names)
        sentences = split_sentences(normalise(turn.content))
        statements = [c for s in sentences for c in _statements(s, names)]
        confirmed = confirmed_proposal(previous, turn)
        if confirmed:
            statements.insert(0, confirmed)
        if previous is not None and answers_other:
            return [_about(fact, previous, who) for fact in self._facts(statements, who)]
        return self._facts(statements, who)

    def _facts(self, statements: list[str], who: _Speaker) -> list[CandidateFact]:
        facts: list[CandidateFact] = []
        generic: list[_Generic] = []
        for statement in statements:
            fact = _retraction(statement, who) or _slot(statement, who)
            if fact is not None:
                facts.append(fact)
                continue
            score = signals.informativeness(statement, who.exclude)
            memory_type, importance = signals.kind(statement)
            if importance >= _VITAL:
                score += self.min_turn_score  # health and identity are worth keeping even when said briefly
            elif memory_type in _STATED_KINDS and signals.first_person(statement):
                score += (
                    _STATED_BONUS  # "I love sushi", "I have two kids": short, but exactly what to remember
                )
            if score >= self.min_context_score:
                generic.append(_Generic(statement, score))
        merged = self._merge(generic, who)
        if merged is not None:
            facts.append(merged)
        return facts

    def _merge(self, generic: list[_Generic], who: _Speaker) -> CandidateFact | None:
        """One fact for the turn's informative sentences that no pattern claimed."""
        total = sum(g.score for g in generic if g.score >= self.min_sentence_score)
        if not generic or total < self.min_turn_score:
            return None
        if len(generic) > self.max_sentences:
            keep = sorted(generic, key=lambda g: -g.score)[: self.max_sentences]
            generic = [g for g in generic if g in keep]
        text = " ".join(_sentence_end(g.text) for g in generic)
        memory_type, importance = signals.kind(text)
        content, when = _content(text, who)
        return CandidateFact(
            content=content,
            memory_type=memory_type,
            importance=importance,
            subject=who.subject,
            speaker=who.speaker,
            source_turns=list(who.sources),
            entities=signals.entities(text, who.exclude | {who.subject}),
            valid_from=when if memory_type in _DAY_KINDS else None,
            confidence=min(0.9, 0.3 + total / 40),
        )


_BARE_PRONOUN = re.compile(r"^(?:It|That|This|They|She|He)\b")


def _about(fact: CandidateFact, previous: Turn, who: _Speaker) -> CandidateFact:
    """`fact` with the topic of the question it answers ("It was rich and creamy! (about coconut milk ice
    cream)"): a reply read alone has lost its referent, and a search uses the question's words. A fact that
    opens with a bare pronoun takes the topic of the other party's last sentence when it answers no question."""
    answers = len(fact.source_turns) > 1
    if fact.operation != "assert" or not (answers or _BARE_PRONOUN.match(fact.content)):
        return fact
    sentences = split_sentences(normalise(previous.content))
    candidates = [s for s in sentences if "?" in s] if answers else sentences[-1:]
    asker = previous.speaker if previous.role == "user" else None
    for sentence in reversed(candidates):
        terms = signals.question_terms(
            sentence, who.name, asker, names=who.exclude | {who.subject}, known=fact.content
        )
        if terms:
            fact.content = f"{fact.content} (about {terms})"
            break
    return fact


def _retraction(statement: str, who: _Speaker) -> CandidateFact | None:
    found = patterns.retraction(statement)
    if found is None:
        return None
    content, _ = _content(found.statement, who)
    return CandidateFact(
        content=_sentence_end(content),
        memory_type="personal" if found.attribute else "preference",
        importance=6,
        subject=who.subject,
        speaker=who.speaker,
        source_turns=list(who.sources),
        attribute=found.attribute,
        operation="retract",
        entities=signals.entities(found.statement, who.exclude | {who.subject}),
        confidence=0.8,
    )


def _slot(statement: str, who: _Speaker) -> CandidateFact | None:
    for slot in patterns.SLOT_PATTERNS:
        m = slot.pattern.search(statement)
        if m:
            return _slot_fact(statement, who, slot.attribute, slot.memory_type, slot.importance, m["v"])
    m = patterns.FAVORITE.search(statement)
    if m:
        return _slot_fact(statement, who, patterns.favorite_slot(m["thing"]), "preference", 6, m["v"])
    return None


def _slot_fact(
    statement: str, who: _Speaker, attribute: str, memory_type: str, importance: int, value: str
) -> CandidateFact:
    content, when = _content(statement, who)
    found = signals.entities(statement, who.exclude | {who.subject})
    value = value.strip()
    if value and value not in found and value.lower() not in who.exclude:
        found.append(value)
    return CandidateFact(
        content=_sentence_end(content),
        memory_type=memory_type,
        importance=importance,
        subject=who.subject,
        speaker=who.speaker,
        source_turns=list(who.sources),
        attribute=attribute,
        entities=found,
        valid_from=when,
        confidence=0.8,
    )


def _content(text: str, who: _Speaker) -> tuple[str, datetime | None]:
    """Third-person text with absolute dates, and the date it names when that is not in the future."""
    resolved = resolve(text, who.timestamp)
    content = to_third_person(resolved.text, who.name)
    return content, _valid_from(resolved.first, who.timestamp)


def _valid_from(day: date | None, now: datetime) -> datetime | None:
    # A plan's date is when it may happen, not when it became true: never date a fact into the future.
    if day is None or day > now.date():
        return None
    return datetime.combine(day, time(), tzinfo=now.tzinfo)


def _error_text(exc: Exception) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _sentence_end(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _names(conversation: Conversation) -> frozenset[str]:
    """Who takes part, so a sentence that only addresses one of them is not a fact."""
    return frozenset(t.speaker.lower() for t in conversation.turns if t.speaker)


def _other_party(previous: Turn, turn: Turn, by_assistant: frozenset[int]) -> bool:
    if (previous.index in by_assistant) != (turn.index in by_assistant) or previous.role != turn.role:
        return True
    return previous.speaker is not None and previous.speaker != turn.speaker
