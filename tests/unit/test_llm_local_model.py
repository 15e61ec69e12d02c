"""The LLM tier end to end against a real model: llama-cpp-python's OpenAI-compatible server with Gemma 3
270M. The model's answers are meaningless; what is proven is the wiring — the request is accepted (after
negotiating llama-cpp-python's response_format), the output is grammar-constrained JSON, tokens are counted,
and whatever the model says ends in validated facts from the LLM tier or in the labelled fallback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.llm import PROMPT_VERSION, LlmExtractor
from membank.ingest.extraction.ports import Conversation, Turn
from membank.ingest.extraction.tiered import FallbackExtractor
from membank.models import MEMORY_TYPES
from membank.providers.llms import OpenAIChatModel
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.e2e

T = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)
CONVERSATION = Conversation(
    "u1",
    "s1",
    [
        Turn(0, "user", "Hi!", T),
        Turn(1, "user", "I moved to Berlin last month and I work at Acme as a data engineer.", T),
        Turn(2, "assistant", "Congratulations on the new job!", T),
    ],
    new_from=1,
)


def gemma(server: LlamaServer) -> OpenAIChatModel:
    # ~10 tokens/s under a grammar on 2 cores: small answers, a generous timeout, no transport retries.
    return OpenAIChatModel(base_url=server.base_url, model=server.model, timeout=90.0, max_retries=0)


async def test_schema_constrained_completion(llama_server: LlamaServer) -> None:
    chat = gemma(llama_server)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    try:
        completion = await chat.complete_json(
            [{"role": "user", "content": "Where does the user live? They live in Berlin."}],
            schema=schema,
            schema_name="city",
            max_tokens=24,
        )
    finally:
        await chat.aclose()
    assert chat.response_format == "json_object"  # llama-cpp-python refused OpenAI's form, once
    assert completion.model == llama_server.model
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.content.lstrip().startswith("{")  # the grammar held
    if completion.finish_reason == "stop":
        assert isinstance(json.loads(completion.content)["city"], str)


async def test_extraction_through_the_real_model(llama_server: LlamaServer) -> None:
    chat = gemma(llama_server)
    tiered = FallbackExtractor(LlmExtractor(chat, max_tokens=48), HeuristicExtractor())
    try:
        result = await tiered.extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert result.usage is not None
    assert result.usage.model == llama_server.model
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    if result.extractor == f"llm:{llama_server.model}":
        assert result.prompt_version == PROMPT_VERSION
        for fact in result.facts:
            assert fact.content and fact.memory_type in MEMORY_TYPES and 1 <= fact.importance <= 10
            assert all(0 <= i < len(CONVERSATION.turns) for i in fact.source_turns)
    else:
        assert result.extractor.startswith("heuristic (llm failed: "), result.extractor
        heuristic = await HeuristicExtractor().extract(CONVERSATION)
        assert [f.content for f in result.facts] == [f.content for f in heuristic.facts] != []
