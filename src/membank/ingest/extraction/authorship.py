"""Who wrote a turn, and what an assistant's turn may contribute: the one rule both extraction tiers apply.

Assistant text is not the user's. Clients label it in several ways, so a turn counts as the assistant's when

1. its role is "assistant"; or
2. its role is "user" and its `name` is an assistant's: the name's first word is one of ASSISTANT_NAMES and
   every other word is a model qualifier ("GPT-4o", "Claude 3.5 Sonnet", "AI Assistant"; not "Claude
   Monet"), or the name is the request's `agent_id`; or
3. its role is "user", it has no assistant name but reads as an unlabelled answer: it directly follows a
   turn that ends in a question, it has at least EXPOSITORY_SENTENCES sentences and EXPOSITORY_WORDS
   words, and at most one first-person singular word ("I", "my", "me", ...) in WORDS_PER_FIRST_PERSON.
   People who answer at that length talk about themselves in every other sentence; an explanation says
   "I" once in passing ("I left the example out"), documentation never. (Chat between people rarely runs
   that long: no LOCOMO turn has more than 90 words.)

From an assistant's turn only what is about the user and stated as such is kept: an acknowledgement ("Got
it, you're vegetarian"), reported speech ("You mentioned you moved to Porto"), and a stated reason ("Since
you are allergic to peanuts, ..."); never what the assistant could say to anyone, and never what it only
supposes ("you might", "you should", "if you"). A yes/no question or a "you ..., right?" check about the user
becomes a fact when the user's next turn confirms it ("Yes, that's right"). At most ASSISTANT_TURN_FACTS
facts come from one assistant turn: an answer restates a fact or two about the user, never a profile.

`keep_user_facts` applies this to what either tier proposes: a fact drawn only from assistant turns stays
when its subject is a person of the conversation (not the assistant) and its turn states something about
the user or was confirmed, and only within the budget, the most important first.
"""

from __future__ import annotations

import re
from collections import defaultdict

from membank.ingest.extraction.ports import CandidateFact, Conversation, Turn
from membank.ingest.extraction.rewrite import normalise, split_sentences

__all__ = [
    "ASSISTANT_NAMES",
    "ASSISTANT_TURN_FACTS",
    "EXPOSITORY_SENTENCES",
    "EXPOSITORY_WORDS",
    "WORDS_PER_FIRST_PERSON",
    "about_user",
    "assistant_turns",
    "confirmed_proposal",
    "is_assistant_name",
    "keep_user_facts",
    "user_name",
]

ASSISTANT_NAMES = frozenset(
    [
        "assistant",
        "ai",
        "bot",
        "chatbot",
        "gpt",
        "chatgpt",
        "claude",
        "gemini",
        "copilot",
        "model",
        "agent",
        "llm",
    ]
)
# Words that follow a model's name without making it a person's ("GPT 4o mini", "Claude 3.5 Sonnet").
_QUALIFIERS = frozenset(
    [
        "assistant",
        "ai",
        "bot",
        "chat",
        "model",
        "agent",
        "mini",
        "turbo",
        "pro",
        "flash",
        "ultra",
        "nano",
        "o",
        "sonnet",
        "opus",
        "haiku",
        "instant",
    ]
)
ASSISTANT_TURN_FACTS = 2
EXPOSITORY_SENTENCES = 5
EXPOSITORY_WORDS = 120
WORDS_PER_FIRST_PERSON = 100

_NAME_WORD = re.compile(r"[a-z]+|\d[\w.]*", re.I)
# "I" as a word of prose, not a variable ("x[i]", "*i*") or "I/O".
_FIRST_PERSON_SINGULAR = re.compile(
    r"(?<![\w\[*(/.-])[Ii](?:'m|'ve|'d|'ll)?(?=[\s,!?;:]|\.(?:\s|$)|$)|\b(?:[Mm]e|[Mm]y|[Mm]ine|[Mm]yself)\b"
)
_WORD = re.compile(r"\S+")
_YOU = r"(?=you\b|you'|your\b)"
# What the assistant only supposes or advises is not a fact about the user.
_SUPPOSED = re.compile(
    r"^(?:you|your \w+)\s+(?:can|could|should|might|may|must|would|will|need to|have to|want to try)\b"
    r"|^you(?:'ll|'d)\b",
    re.I,
)
_ACK = re.compile(
    r"^(?:(?:got it|noted|okay|ok|understood|i see|great|sure|alright|all right|perfect|good to know|"
    rf"thanks for (?:letting me know|sharing|telling me)(?: that)?)[,.!:]*\s+)+(?:so,? )?{_YOU}"
    rf"|^i(?:'ll| will) (?:remember|note|keep in mind) (?:that )?{_YOU}",
    re.I,
)
_SAID = r"(?:mentioned|said|told me|noted|shared|wrote|explained)"
_REPORTED = re.compile(
    rf"^(?:(?:and|so|but|also),? )?(?:you(?:'ve| have)? {_SAID}(?: (?:earlier|before|last time|already))?"
    rf"|(?:as|like) you(?:'ve| have)? {_SAID}(?: (?:earlier|before|last time|already))?)[,:]?\s+(?:that\s+)?{_YOU}",
    re.I,
)
# "Since you are allergic to peanuts, avoid satay": the reason is the user's fact, the advice is not.
_REASON = re.compile(
    r"^(?:since|because|given that|now that|seeing that) (?P<clause>(?:you\b|you'|your\b)[^,;:]+)", re.I
)
# Where the assistant goes on from the user's fact to its own point ("..., so here is a local angle").
_OWN_POINT = re.compile(r"(?:,\s*(?:so|but|which|here|and so|and here)\b|;|:\s|\s+-\s+).*$", re.I)
_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|correct|exactly|that's right|that is right|that's correct|right|indeed|sure)\b",
    re.I,
)
_YES_NO_QUESTION = (
    (re.compile(r"^(?:so,? )?are you (?P<rest>[^?]+)\?", re.I), "I am "),
    (re.compile(r"^(?:so,? )?do you (?P<rest>[^?]+)\?", re.I), "I "),
    (re.compile(r"^(?:so,? )?have you (?P<rest>[^?]+)\?", re.I), "I have "),
    (re.compile(r"^(?:so,? )?is your (?P<rest>[^?]+)\?", re.I), "my "),
    # "So you moved to Porto?", "You're vegetarian, right?": a check the user answers
    (
        re.compile(
            rf"^(?:so,? |and,? )?(?P<rest>{_YOU}[^?]+?)(?:,?\s*(?:right|correct|is that (?:right|correct)))?\?$",
            re.I,
        ),
        "",
    ),
)
_YOU_TO_I = (
    (re.compile(r"\byou're\b|\byou are\b", re.I), "I'm"),
    (re.compile(r"\byou were\b", re.I), "I was"),
    (re.compile(r"\byou've\b", re.I), "I've"),
    (re.compile(r"\byou'll\b", re.I), "I'll"),
    (re.compile(r"\byou'd\b", re.I), "I'd"),
    (re.compile(r"\byourself\b", re.I), "myself"),
    (re.compile(r"\byours\b", re.I), "mine"),
    (re.compile(r"\byour\b", re.I), "my"),
    (re.compile(r"\byou\b", re.I), "I"),
)


def is_assistant_name(name: str | None, agent_id: str | None = None) -> bool:
    """Whether a speaker called `name` is an assistant (rule 2 of the module docstring)."""
    if not name:
        return False
    if agent_id and name.strip().lower() == agent_id.strip().lower():
        return True
    words = [w.lower() for w in _NAME_WORD.findall(name)]
    if not words or words[0] not in ASSISTANT_NAMES:
        return False
    return all(w in _QUALIFIERS or w[0].isdigit() for w in words[1:])


def assistant_turns(conversation: Conversation) -> frozenset[int]:
    """The indexes of the turns an assistant wrote, whatever role the client gave them."""
    out: set[int] = set()
    for turn in conversation.turns:
        if turn.role == "assistant" or (
            turn.role == "user" and is_assistant_name(turn.speaker, conversation.agent_id)
        ):
            out.add(turn.index)
    for turn in conversation.turns:
        if turn.role == "user" and turn.index not in out and turn.index > 0:
            previous = conversation.turns[turn.index - 1]
            if _expository_answer(previous, turn):
                out.add(turn.index)
    return frozenset(out)


def _expository_answer(previous: Turn, turn: Turn) -> bool:
    """Rule 3: a long answer to a question that hardly says "I"."""
    if previous.role == "system" or not previous.content.rstrip().endswith("?"):
        return False
    text = normalise(turn.content)
    words = len(_WORD.findall(text))
    if words < EXPOSITORY_WORDS or len(_FIRST_PERSON_SINGULAR.findall(text)) * WORDS_PER_FIRST_PERSON > words:
        return False
    return len(split_sentences(text)) >= EXPOSITORY_SENTENCES


def about_user(text: str) -> list[str]:
    """The assistant's statements about the user in `text`, in the user's first person ("You mentioned
    you moved to Porto" -> "I moved to Porto"), each once and in order."""
    out: list[str] = []
    for sentence in split_sentences(normalise(text)):
        if sentence.endswith("?"):
            continue
        stated = _stated_about_user(sentence)
        if stated:
            stated = _OWN_POINT.sub("", stated).strip()
        if stated and not _SUPPOSED.match(stated):
            first_person = _you_to_i(stated)
            if first_person not in out:
                out.append(first_person)
    return out


def _stated_about_user(sentence: str) -> str | None:
    for pattern in (_ACK, _REPORTED):
        m = pattern.match(sentence)
        if m:
            return sentence[m.end() :]
    reason = _REASON.match(sentence)
    return reason["clause"] if reason else None


def confirmed_proposal(previous: Turn | None, turn: Turn) -> str | None:
    """ "Yes" to "Do you live in Berlin?" or "So you live in Berlin?" confirms "I live in Berlin"."""
    if previous is None or not _YES.match(normalise(turn.content)):
        return None
    sentences = split_sentences(normalise(previous.content))
    if not sentences:
        return None
    for pattern, prefix in _YES_NO_QUESTION:
        m = pattern.match(sentences[-1])
        if m and not (prefix == "" and _SUPPOSED.match(m["rest"])):
            return prefix + _you_to_i(m["rest"])
    return None


def _you_to_i(text: str) -> str:
    """The assistant's "you" as the user's "I"."""
    for pattern, replacement in _YOU_TO_I:
        text = pattern.sub(replacement, text)
    return text


def user_name(conversation: Conversation, before: int, by_assistant: frozenset[int]) -> str:
    """The name of the last person (not an assistant) who spoke before turn `before`: whom "you" means."""
    for turn in reversed(conversation.turns[:before]):
        if turn.role == "user" and turn.index not in by_assistant:
            return turn.speaker or "User"
    return "User"


def keep_user_facts(
    facts: list[CandidateFact], conversation: Conversation
) -> tuple[list[CandidateFact], int]:
    """`facts` less those drawn only from assistant turns that are not about the user or over the budget of
    their turn, in their order; and how many were dropped."""
    by_assistant = assistant_turns(conversation)
    people = {"user"} | {
        t.speaker.lower() for t in conversation.turns if t.speaker and t.index not in by_assistant
    }
    allowed: dict[int, list[CandidateFact]] = defaultdict(list)
    for fact in facts:
        if _assistant_only(fact, by_assistant):
            said_in = max(fact.source_turns)
            if fact.subject in people and _states_about_user(conversation, said_in, by_assistant):
                allowed[said_in].append(fact)
    within = {
        id(fact)
        for candidates in allowed.values()
        for fact in sorted(candidates, key=lambda f: -f.importance)[:ASSISTANT_TURN_FACTS]
    }
    kept = [fact for fact in facts if id(fact) in within or not _assistant_only(fact, by_assistant)]
    return kept, len(facts) - len(kept)


def _assistant_only(fact: CandidateFact, by_assistant: frozenset[int]) -> bool:
    return bool(fact.source_turns) and all(i in by_assistant for i in fact.source_turns)


def _states_about_user(conversation: Conversation, index: int, by_assistant: frozenset[int]) -> bool:
    turn = conversation.turns[index]
    if about_user(turn.content):
        return True
    following = conversation.turns[index + 1] if index + 1 < len(conversation.turns) else None
    return (
        following is not None
        and following.index not in by_assistant
        and confirmed_proposal(turn, following) is not None
    )
