"""The request shapes of mem0's REST API and platform client (mem0ai 2.2), as MemBank accepts them.

Fields mem0's clients send as bookkeeping (`version`, `output_format`, `org_id`, ...) are accepted and have no
effect; fields asking for what MemBank does not do (graph memory, expiration dates, custom categories) are
refused by name, never ignored in silence (docs/mem0-compatibility.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, StringConstraints, model_validator

from membank.errors import ValidationFailed
from membank.ingest.schemas import MAX_MESSAGE, MAX_MESSAGES, MessageIn
from membank.memories.schemas import IDENTIFIER_PATTERN, Identifier, JsonObject, NotBlankText, UserId

ENTITY_FIELDS = ("user_id", "agent_id", "run_id")
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


class _Mem0In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # What mem0's clients may send about themselves: accepted, without effect.
    version: StrictStr | None = None
    output_format: StrictStr | None = None
    org_id: StrictStr | None = None
    project_id: StrictStr | None = None
    async_mode: StrictBool | None = None


# A message's text: something besides whitespace, bounded like a conversation message of the native API.
MessageText = Annotated[NotBlankText, StringConstraints(min_length=1, max_length=MAX_MESSAGE)]


class Mem0Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: MessageText
    name: StrictStr | None = Field(default=None, min_length=1, max_length=64)


class _Entities(_Mem0In):
    user_id: UserId | None = None
    agent_id: Identifier | None = None
    run_id: Identifier | None = None
    filters: dict[str, Any] | None = Field(default=None, description="Entity ids, flat or under AND")


class AddIn(_Entities):
    """POST /v1/memories/ and /v3/memories/add/."""

    messages: list[Mem0Message] | Mem0Message | MessageText
    metadata: JsonObject | None = None
    infer: StrictBool = True

    def message_list(self) -> list[MessageIn]:
        given = self.messages
        if isinstance(given, str):
            given = [Mem0Message(role="user", content=given)]
        elif isinstance(given, Mem0Message):
            given = [given]
        if not given:
            raise ValidationFailed.field("messages", "at least one message")
        if len(given) > MAX_MESSAGES:
            raise ValidationFailed.field("messages", f"at most {MAX_MESSAGES} messages")
        return [MessageIn(role=m.role, content=m.content, name=m.name) for m in given]


class SearchIn(_Entities):
    """POST /v1|v2|v3/memories/search/."""

    query: NotBlankText = Field(min_length=1, max_length=4_000)
    top_k: int | None = Field(default=None, ge=1, le=100)
    limit: int | None = Field(default=None, ge=1, le=100, description="v1's name of top_k")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_size(self) -> SearchIn:
        if self.top_k is not None and self.limit is not None and self.top_k != self.limit:
            raise ValueError("top_k and limit disagree: send one of them")
        return self


class ListIn(_Entities):
    """POST /v2/memories/ and /v3/memories/ (the body; page and page_size are query parameters)."""


class UpdateIn(_Mem0In):
    """PUT /v1/memories/{id}/."""

    text: NotBlankText | None = Field(default=None, min_length=1, max_length=20_000)
    metadata: JsonObject | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateIn:
        if self.text is None and self.metadata is None:
            raise ValueError("give text or metadata")
        return self


@dataclass(frozen=True, slots=True)
class Entities:
    """Whose memories: MemBank's user, agent and session (mem0's run)."""

    user_id: str
    agent_id: str | None
    session_id: str | None


def entities(body: _Entities | None, query: dict[str, str | None] | None = None) -> Entities:
    """The entity ids of a request, from its top-level fields, its `filters` (flat or one AND level) and the
    query string alike; the same id named twice must agree. MemBank's memories belong to a user, so user_id
    is required; any other filter is refused by name."""
    found: dict[str, str] = {}

    def take(name: str, value: Any, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not _is_identifier(value):
            raise ValidationFailed.field(where, f"{name} must be an identifier ({IDENTIFIER_PATTERN})")
        if found.setdefault(name, value) != value:
            raise ValidationFailed.field(where, f"{name} is given twice with different values")

    for name, value in (query or {}).items():
        take(name, value, name)
    if body is not None:
        for name in ENTITY_FIELDS:
            take(name, getattr(body, name), name)
        for name, value, where in _filter_terms(body.filters):
            take(name, value, where)
    if "user_id" not in found:
        raise ValidationFailed.field(
            "user_id", "MemBank's memories belong to a user: give user_id (top level or in filters)"
        )
    return Entities(found["user_id"], found.get("agent_id"), found.get("run_id"))


def _filter_terms(filters: dict[str, Any] | None) -> list[tuple[str, Any, str]]:
    if not filters:
        return []
    terms: list[tuple[str, Any, str]] = []
    for key, value in filters.items():
        if key == "AND" and isinstance(value, list):
            for index, clause in enumerate(value):
                where = f"filters.AND.{index}"
                if not isinstance(clause, dict) or len(clause) != 1:
                    raise ValidationFailed.field(where, "each AND clause is one {entity_id_name: id} object")
                ((name, inner),) = clause.items()
                if name not in ENTITY_FIELDS:
                    raise ValidationFailed.field(f"{where}.{name}", _UNSUPPORTED_FILTER)
                terms.append((name, inner, f"{where}.{name}"))
        elif key in ENTITY_FIELDS:
            terms.append((key, value, f"filters.{key}"))
        else:
            raise ValidationFailed.field(f"filters.{key}", _UNSUPPORTED_FILTER)
    return terms


_UNSUPPORTED_FILTER = "only user_id, agent_id and run_id are supported here (see docs/mem0-compatibility.md)"


def _is_identifier(value: str) -> bool:
    return _IDENTIFIER.fullmatch(value) is not None
