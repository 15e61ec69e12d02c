"""The LLM extraction prompt and the JSON schema of its answer: the one place their text lives.

Any change to the wording, the rendering of turns or the schema is a new PROMPT_VERSION: the version is
stored on every memory version the LLM tier produced, so that extractions can be compared and re-run.
"""

from __future__ import annotations

from typing import Any

from membank.ingest.extraction.authorship import ASSISTANT_TURN_FACTS, assistant_turns
from membank.ingest.extraction.ports import Conversation, Turn
from membank.models import MEMORY_TYPES
from membank.providers.llms.ports import ChatMessage

__all__ = [
    "CONTEXT_TURNS",
    "PROMPT_VERSION",
    "SCHEMA_NAME",
    "SYSTEM_PROMPT",
    "build_messages",
    "extraction_schema",
    "retry_message",
    "speaker_of",
]

PROMPT_VERSION = "extract-v2"
SCHEMA_NAME = "extracted_facts"

# Earlier turns only help to resolve references ("she", "that job"); a bounded window keeps the prompt,
# and so the cost of every call, bounded however long the conversation grows.
CONTEXT_TURNS = 12
CONTEXT_CHARS = 600

SYSTEM_PROMPT = f"""\
You extract durable facts about people from a conversation, for an AI agent's long-term memory.

Rules:
- Extract facts only from the NEW turns. Earlier turns and the summary are context to resolve references.
- One fact per item. "content" is a short standalone third-person sentence that names its subject
  ("User moved to Berlin", "Caroline adopted a dog named Max"); never "I", "me" or "you".
- Skip questions, greetings and small talk. Keep what the user states about themselves and others,
  their preferences, plans, events, relationships and instructions.
- Turns marked (assistant) are the assistant's, whatever their name: context, not the user's words.
  Never extract the assistant's explanations, advice, examples or general knowledge. From an assistant
  turn take only what it says about the user ("You mentioned you moved to Porto", "Since you are
  allergic to peanuts") or what the user confirms in their next turn ("Yes, that's right"), at most
  {ASSISTANT_TURN_FACTS} facts per assistant turn, with "subject" the user.
- "subject": who the fact is about, lowercase: "user" for the user unless they are named, else the name.
- "attribute": the slot a newer value replaces ("residence", "employer", "job_title", "name", "age",
  "relationship_status", ...), or null for facts that accumulate (likes, events, skills).
- "operation": "retract" when a turn says a fact stopped being true or asks to forget it ("I no longer
  work at Acme", "forget that I like sushi"); "content" then states the retracted fact. Else "assert".
- "memory_type": one of {", ".join(MEMORY_TYPES)}.
- "importance": 1 (trivia) to 10 (identity, health, safety).
- "entities": the people, places, organisations and products the fact names.
- "source_turns": the [numbers] of the turns the fact comes from. "speaker": who said it.
- "valid_from": the date (YYYY-MM-DD) the fact became true when the text says so, resolving relative
  dates ("last week", "in May") against the date of the turn; else null.
- Answer {{"facts": []}} when nothing is worth remembering.
Answer with JSON only."""

_RETRY = (
    "Your previous answer could not be used ({reason}). Answer again with JSON only, exactly matching the "
    'schema: {{"facts": [...]}}, and keep it short enough to finish.'
)


def extraction_schema() -> dict[str, Any]:
    """The JSON schema the answer is constrained to (OpenAI strict mode: every property required)."""
    fact: dict[str, Any] = {
        "type": "object",
        "properties": {
            "content": {"type": "string"},
            "memory_type": {"type": "string", "enum": list(MEMORY_TYPES)},
            "importance": {"type": "integer", "minimum": 1, "maximum": 10},
            "subject": {"type": "string"},
            "attribute": {"type": ["string", "null"]},
            "operation": {"type": "string", "enum": ["assert", "retract"]},
            "entities": {"type": "array", "items": {"type": "string"}},
            "source_turns": {"type": "array", "items": {"type": "integer"}},
            "speaker": {"type": "string"},
            "valid_from": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        },
        "additionalProperties": False,
    }
    fact["required"] = list(fact["properties"])
    return {
        "type": "object",
        "properties": {"facts": {"type": "array", "items": fact}},
        "required": ["facts"],
        "additionalProperties": False,
    }


def speaker_of(turn: Turn) -> str:
    """The display name of who said `turn`: the caller's name for them, else "User" / "Assistant"."""
    return turn.speaker or turn.role.capitalize()


def build_messages(conversation: Conversation) -> list[ChatMessage]:
    """The system prompt and one user message with the summary, the context turns and the new turns."""
    parts: list[str] = []
    by_assistant = assistant_turns(conversation)
    if conversation.summary:
        parts += ["Summary of the conversation so far:", conversation.summary.strip(), ""]
    context = conversation.turns[: conversation.new_from][-CONTEXT_TURNS:]
    if context:
        parts.append("Earlier turns (context only, extract nothing from them):")
        parts += [_render(turn, by_assistant, limit=CONTEXT_CHARS) for turn in context]
        parts.append("")
    parts.append("New turns (extract facts from these):")
    parts += [_render(turn, by_assistant) for turn in conversation.new_turns]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(parts)},
    ]


def retry_message(reason: str) -> ChatMessage:
    """The note appended when the previous answer was unusable, so the next call is not the same call."""
    return {"role": "user", "content": _RETRY.format(reason=reason)}


def _render(turn: Turn, by_assistant: frozenset[int], *, limit: int | None = None) -> str:
    text = " ".join(turn.content.split())
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    # The role as authorship.py reads it, not as the client labelled it: a "user" named "AI" is the assistant.
    role = "assistant" if turn.index in by_assistant else turn.role
    who = f"{turn.speaker} ({role})" if turn.speaker else role.capitalize()
    return f"[{turn.index}] {turn.timestamp.date().isoformat()} {who}: {text}"
