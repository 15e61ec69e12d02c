"""Chat LLM providers: the port, any OpenAI-compatible API, and the factory."""

from __future__ import annotations

from membank.config import Settings
from membank.providers.llms.ports import ChatCompletion, ChatMessage, ChatModel

__all__ = [
    "ChatCompletion",
    "ChatMessage",
    "ChatModel",
    "OpenAIChatModel",
    "build_chat_model",
]


def build_chat_model(settings: Settings) -> ChatModel | None:
    """The chat model `MEMBANK_LLM_*` configures, or None when `MEMBANK_LLM_BASE_URL` is unset (no LLM tier)."""
    if settings.llm_base_url is None:
        return None
    from membank.providers.llms.openai import OpenAIChatModel

    return OpenAIChatModel.from_settings(settings)


def __getattr__(name: str) -> object:
    # The backend imports httpx and tenacity: load it only when asked for.
    if name == "OpenAIChatModel":
        from membank.providers.llms.openai import OpenAIChatModel

        return OpenAIChatModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
