"""The LLM extraction tier: one schema-constrained chat call per conversation batch, validated.

An answer that is not JSON, is cut off, has no `facts` array, or whose every fact is invalid is retried with a
new call; when that fails too, `extract` raises LlmExtractionFailed (so the fallback tier runs) instead of
returning fewer facts. Cosmetic fields never cost a fact: an unknown `memory_type` becomes "factual", an
`importance` out of 1..10 is clamped (missing or not a number: 5), an unparseable `valid_from` becomes None (the
message time is used). A fact is dropped only when it has no usable content or subject, when every turn it
names is context (before `new_from`: the prompt says not to extract from those), or when it comes only from
assistant turns and is not the user's by the rule of authorship.py (the heuristic tier's rule, over the same
per-turn budget); the result counts them in `rejected`.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from membank.errors import LLMServiceError
from membank.ingest.extraction.authorship import keep_user_facts
from membank.ingest.extraction.ports import CandidateFact, Conversation, ExtractionResult
from membank.ingest.extraction.prompt import (
    PROMPT_VERSION,
    SCHEMA_NAME,
    build_messages,
    extraction_schema,
    retry_message,
    speaker_of,
)
from membank.models import MEMORY_TYPES
from membank.models.time import in_time_range
from membank.providers.llms.ports import ChatModel, TokenUsage

__all__ = ["PROMPT_VERSION", "InvalidOutput", "LlmExtractionFailed", "LlmExtractor", "parse_facts"]

log = structlog.get_logger(__name__)

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class LlmExtractionFailed(LLMServiceError):
    """The LLM tier gave up. `reason` is short enough for a job result; `usage` is what the failed calls
    spent (None when no call got an answer)."""

    def __init__(self, reason: str, *, usage: TokenUsage | None = None) -> None:
        super().__init__(f"LLM extraction failed: {reason}", details={"reason": reason})
        self.reason = reason
        self.usage = usage


class InvalidOutput(ValueError):
    """The model's answer cannot be used as a whole."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Fact(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    content: str = Field(min_length=1, max_length=2000)
    memory_type: str = "factual"
    importance: int = 5
    subject: str = Field(min_length=1, max_length=200)
    attribute: str | None = Field(default=None, max_length=100)
    operation: Literal["assert", "retract"] = "assert"
    entities: list[str] = Field(default_factory=list)
    source_turns: list[int] = Field(default_factory=list)
    speaker: str = ""
    valid_from: datetime | None = None

    @field_validator("memory_type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in MEMORY_TYPES:
            return value.strip().lower()
        return "factual"  # the type only ranks and filters: a wrong one must not cost the fact

    @field_validator("importance", mode="before")
    @classmethod
    def _clamped(cls, value: Any) -> int:
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                return 5
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return 5
        return int(min(10, max(1, round(value))))

    @field_validator("subject", mode="after")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("attribute", mode="after")
    @classmethod
    def _slot(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.lower().replace(" ", "_") or None

    @field_validator("entities", mode="after")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(name.strip() for name in value if name.strip()))

    @field_validator("valid_from", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> datetime | None:
        # Unparseable ("2024-05", "next week") means unknown: the message time is used instead.
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())  # a date alone means its midnight
            except ValueError:
                return None
        else:
            return None
        # A date outside the accepted range of times (models/time.py) is as unknown as an unparseable one.
        return in_time_range(parsed)


class LlmExtractor:
    """The `Extractor` port over a `ChatModel`: all new turns of a conversation in one call.

    `max_attempts` counts calls for one extraction: an unusable answer is retried by a new call (the
    chat model retries transport failures on its own, within each of them).
    """

    name = "llm"

    def __init__(self, chat: ChatModel, *, max_tokens: int, max_attempts: int = 2) -> None:
        self._chat = chat
        self._max_tokens = max_tokens
        self._max_attempts = max(1, max_attempts)
        self._schema = extraction_schema()

    @property
    def label(self) -> str:
        """What results say found the facts: "llm:<model>"."""
        return f"llm:{self._chat.model}"

    async def extract(self, conversation: Conversation) -> ExtractionResult:
        """Candidate facts of the new turns; raises LlmExtractionFailed when the LLM tier cannot give them."""
        if not conversation.new_turns:
            return ExtractionResult([], self.label, PROMPT_VERSION, None)
        base = build_messages(conversation)
        messages = base
        usage: TokenUsage | None = None
        reason = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                completion = await self._chat.complete_json(
                    messages, schema=self._schema, schema_name=SCHEMA_NAME, max_tokens=self._max_tokens
                )
            except LLMServiceError as exc:
                raise LlmExtractionFailed(exc.message, usage=usage) from exc
            usage = completion.usage if usage is None else usage + completion.usage
            try:
                facts, rejected = parse_facts(completion.content, conversation, completion.finish_reason)
            except InvalidOutput as exc:
                reason = exc.reason
                log.warning("llm.invalid_output", attempt=attempt, reason=reason, model=completion.model)
                messages = [*base, retry_message(reason)]
                continue
            if rejected:
                log.info("llm.facts_rejected", rejected=rejected, kept=len(facts))
            return ExtractionResult(facts, self.label, PROMPT_VERSION, usage, rejected=rejected)
        plural = "s" if self._max_attempts > 1 else ""
        raise LlmExtractionFailed(f"{reason} ({self._max_attempts} call{plural})", usage=usage)


def parse_facts(
    content: str, conversation: Conversation, finish_reason: str | None = None
) -> tuple[list[CandidateFact], int]:
    """The usable facts of an answer and how many were dropped (invalid, drawn only from context turns, or
    only from assistant turns and not about the user); raises InvalidOutput when it is unusable."""
    text = content.strip()
    fenced = _FENCE.match(text)  # some servers wrap JSON in a Markdown fence despite the schema
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if finish_reason == "length":
            raise InvalidOutput("truncated JSON: the answer hit max_tokens") from None
        raise InvalidOutput(f"unparseable JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(data, dict) or not isinstance(data.get("facts"), list):
        raise InvalidOutput('wrong schema: no "facts" array')
    facts: list[CandidateFact] = []
    errors: list[str] = []
    from_context = 0
    for raw in data["facts"]:
        try:
            fact = _candidate(_Fact.model_validate(raw), conversation)
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append(f"{'.'.join(str(p) for p in first['loc']) or 'fact'}: {first['msg']}")
            continue
        if fact is None:
            from_context += 1
        else:
            facts.append(fact)
    if errors and not facts:
        raise InvalidOutput(f"wrong schema: all {len(errors)} facts invalid ({errors[0]})")
    facts, not_the_users = keep_user_facts(facts, conversation)
    return facts, len(errors) + from_context + not_the_users


def _candidate(fact: _Fact, conversation: Conversation) -> CandidateFact | None:
    """The candidate of a valid fact, or None when it names only context turns (they were extracted from
    before, with the job that brought them)."""
    count = len(conversation.turns)  # a turn's index is its position in `turns`
    # A fact must point at what it came from; a model that names no valid turn gets the whole batch.
    sources = list(dict.fromkeys(i for i in fact.source_turns if 0 <= i < count))
    if sources and all(i < conversation.new_from for i in sources):
        return None
    sources = sources or list(range(conversation.new_from, count))
    speaker = fact.speaker or speaker_of(conversation.turns[sources[0]])
    return CandidateFact(
        content=fact.content,
        memory_type=fact.memory_type,
        importance=fact.importance,
        subject=fact.subject,
        speaker=speaker,
        source_turns=sources,
        attribute=fact.attribute,
        operation=fact.operation,
        entities=fact.entities,
        valid_from=fact.valid_from,
        # As sure as the heuristic tier's facts: nothing measured yet says either tier is surer.
        confidence=0.8,
    )
