"""The chat model port: messages in, a JSON document (as text) constrained by a JSON schema out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

__all__ = ["ChatCompletion", "ChatMessage", "ChatModel", "TokenUsage"]


class ChatMessage(TypedDict):
    """One message of a chat request, as the OpenAI wire protocol spells it."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens an LLM call spent, for cost reports."""

    model: str
    prompt_tokens: int
    completion_tokens: int

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.model,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class ChatCompletion:
    """The model's answer: `content` is the raw text (callers parse and validate it), `model` the model
    that answered as the server names it, `finish_reason` "length" when `max_tokens` cut it short."""

    content: str
    model: str
    usage: TokenUsage
    finish_reason: str | None = None


class ChatModel(Protocol):
    """A chat LLM that answers in JSON matching a schema (grammar- or schema-constrained decoding).

    Implementations retry transient failures themselves and raise `LLMServiceError` once they give up, or at
    once while their circuit breaker is open. They do not parse `content`: a well-formed HTTP answer whose text
    is not valid JSON is returned as it is, for the caller to validate and decide.
    """

    @property
    def model(self) -> str:
        """The configured model name (sent with every request)."""

    async def complete_json(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: dict[str, Any],
        schema_name: str,
        max_tokens: int,
    ) -> ChatCompletion:
        """One chat completion whose output is constrained by `schema`. Raises LLMServiceError."""

    async def aclose(self) -> None:
        """Release connections."""
