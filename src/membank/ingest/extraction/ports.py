"""The extraction port: turns of a conversation in, candidate facts out.

Two tiers implement it: the heuristic extractor (offline, always available) and the LLM extractor (any
OpenAI-compatible chat API), wrapped so that an LLM failure falls back to the heuristic tier and says so.
Extractors only propose; consolidation decides ADD / UPDATE / DELETE / NOOP against what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from membank.providers.llms.ports import TokenUsage

Role = Literal["user", "assistant", "system"]
Operation = Literal["assert", "retract"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One message. `index` is its position in `Conversation.turns`; `speaker` a display name when the
    caller gave one (e.g. "Caroline"), else None (the user is then "User", the assistant "Assistant")."""

    index: int
    role: Role
    content: str
    timestamp: datetime
    speaker: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """What one extraction sees. Turns before `new_from` are context only (earlier history): facts are
    extracted from `turns[new_from:]` but may use the context to resolve them. `agent_id` is the request's
    agent, whose name on a turn marks it as the assistant's (authorship.py)."""

    user_id: str
    session_id: str | None
    turns: list[Turn]
    new_from: int = 0
    summary: str | None = None
    agent_id: str | None = None

    @property
    def new_turns(self) -> list[Turn]:
        return self.turns[self.new_from :]


@dataclass(slots=True)
class CandidateFact:
    """A fact an extractor proposes.

    `content` is a standalone third-person sentence ("User moved to Berlin", "Caroline adopted a dog").
    `subject` is who it is about, normalised lowercase ("user", "caroline"); `attribute` names an exclusive
    slot of that subject ("residence", "employer", "job_title", ...) when a newer value replaces an older
    one, or None when facts of this kind accumulate (likes, events). `operation` "retract" means the fact
    stops being true ("forget that I like sushi", "I no longer work at Acme"): `content` then states the
    retracted fact and `attribute` its slot when known. `source_turns` are indexes into
    `Conversation.turns`; `valid_from` is when the fact became true when the text says so (relative
    dates resolved against the message timestamp), else None (the message time is used).
    """

    content: str
    memory_type: str
    importance: int
    subject: str
    speaker: str
    source_turns: list[int]
    attribute: str | None = None
    operation: Operation = "assert"
    entities: list[str] = field(default_factory=list)
    valid_from: datetime | None = None
    confidence: float = 0.5


@dataclass(frozen=True, slots=True)
class SkippedTurn:
    """A new turn the extractor could not read: its index in `Conversation.turns` and what went wrong."""

    index: int
    error: str


@dataclass(slots=True)
class ExtractionResult:
    """Facts found, and which tier found them (e.g. "heuristic", "llm", "heuristic (llm failed: timeout)").

    `rejected` counts facts the extractor proposed but dropped (an LLM fact with no usable content or
    subject, or drawn only from context turns), so a job result can say that something was left out.
    `skipped` lists the turns that failed on their own: they cost only themselves, never the others.
    """

    facts: list[CandidateFact]
    extractor: str
    prompt_version: str | None = None
    usage: TokenUsage | None = None
    rejected: int = 0
    skipped: list[SkippedTurn] = field(default_factory=list)


class Extractor(Protocol):
    """Proposes facts from the new turns of a conversation; several turns cost one call, not one each."""

    name: str

    async def extract(self, conversation: Conversation) -> ExtractionResult:
        """Candidate facts of `conversation.new_turns` (none for questions, greetings and small talk)."""
