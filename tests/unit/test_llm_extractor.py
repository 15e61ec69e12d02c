"""The LLM extraction tier and its fallback against the stub server: one call per conversation, validation,
a new call for an unusable answer, and — for every fault the stub can script — no fact lost: the facts come out
of the LLM tier or, labelled with the reason, out of the heuristic tier."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog.testing
from pydantic import SecretStr

from membank.errors import LLMServiceError
from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.llm import PROMPT_VERSION, LlmExtractionFailed, LlmExtractor
from membank.ingest.extraction.ports import CandidateFact, Conversation, Turn
from membank.ingest.extraction.prompt import SCHEMA_NAME, SYSTEM_PROMPT, extraction_schema
from membank.ingest.extraction.tiered import FallbackExtractor
from membank.providers.llms import OpenAIChatModel
from tests.support.openai_stub import OpenAIStub, Reply, Step, reply_json

T = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)
TURNS = [
    Turn(0, "user", "Hi there!", T),
    Turn(1, "assistant", "Hello! How can I help?", T),
    Turn(2, "user", "I moved to Berlin last month and I started working at Acme as a data engineer.", T),
    Turn(3, "assistant", "Congratulations on the new job!", T),
    Turn(4, "user", "Also, I love green tea.", T),
]
CONVERSATION = Conversation("u1", "s1", TURNS, new_from=2, summary="The user is planning a move.")

FACTS: list[dict[str, Any]] = [
    {
        "content": "User moved to Berlin",
        "memory_type": "personal",
        "importance": 7,
        "subject": "User",
        "attribute": "residence",
        "operation": "assert",
        "entities": ["Berlin"],
        "source_turns": [2],
        "speaker": "User",
        "valid_from": "2024-04-01",
    },
    {
        "content": "User works at Acme as a data engineer",
        "memory_type": "Factual",
        "importance": 8,
        "subject": "user",
        "attribute": "Job Title",
        "operation": "assert",
        "entities": ["Acme", " Acme", ""],
        "source_turns": [2, 99],
        "speaker": "User",
        "valid_from": None,
    },
    {
        "content": "User loves green tea",
        "memory_type": "preference",
        "importance": 4,
        "subject": "user",
        "attribute": None,
        "operation": "assert",
        "entities": [],
        "source_turns": [],
        "speaker": "",
        "valid_from": None,
    },
]
VALID = reply_json({"facts": FACTS})
MALFORMED = Reply('{"facts": [{"content": "User moved to Berlin", "memory_type": personal}]}')
TRUNCATED = Reply('{"facts": [{"content": "User moved to Ber', finish_reason="length")
WRONG_SCHEMA = reply_json([{"fact": "User moved to Berlin"}])
ALL_INVALID = reply_json(
    {"facts": [{"content": "  ", "memory_type": "personal", "subject": "u"}, "a string"]}
)


def chat_model(url: str, **options: Any) -> OpenAIChatModel:
    values: dict[str, Any] = {
        "base_url": url,
        "model": "stub-model",
        "api_key": SecretStr("sk-test"),
        "timeout": 0.3,
        "max_retries": 2,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        **options,
    }
    return OpenAIChatModel(**values)


def contents(facts: list[CandidateFact]) -> list[str]:
    return [fact.content for fact in facts]


async def test_one_call_for_the_whole_batch(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [VALID]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert result.extractor == "llm:stub-model"
    assert result.prompt_version == PROMPT_VERSION == "extract-v2"
    assert contents(result.facts) == [f["content"] for f in FACTS]
    (request,) = openai_stub.chat_requests()
    body = request["body"]
    assert body["max_tokens"] == 300
    assert body["response_format"]["json_schema"] == {
        "name": SCHEMA_NAME,
        "schema": extraction_schema(),
        "strict": True,
    }
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    prompt = user["content"]
    assert "The user is planning a move." in prompt
    context, new = prompt.split("New turns")
    assert "[0] 2024-05-08 User: Hi there!" in context
    assert "[2] 2024-05-08 User: I moved to Berlin" in new and "[4] 2024-05-08 User: Also" in new
    assert "Berlin" not in context
    assert result.usage is not None
    assert result.usage.model == "stub-model"
    assert result.usage.prompt_tokens == sum(len(m["content"].split()) for m in body["messages"])
    assert result.usage.completion_tokens > 0


async def test_facts_are_validated_and_normalised(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [VALID]
    chat = chat_model(openai_stub_server[0])
    try:
        moved, works, tea = (await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)).facts
    finally:
        await chat.aclose()
    assert moved.subject == "user" and moved.attribute == "residence" and moved.speaker == "User"
    assert moved.valid_from == datetime(2024, 4, 1, tzinfo=UTC)
    assert moved.source_turns == [2] and moved.entities == ["Berlin"]
    assert works.memory_type == "factual" and works.attribute == "job_title"
    assert works.entities == ["Acme"]
    assert works.source_turns == [2]  # 99 is no turn of this conversation
    assert tea.attribute is None and tea.valid_from is None
    assert tea.source_turns == [2, 3, 4]  # no source named: the whole batch
    assert tea.speaker == "User"


async def test_an_invalid_fact_is_dropped_alone_and_counted(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    bad = [
        {**FACTS[0], "content": "  "},
        {**FACTS[0], "subject": ""},
        {**FACTS[0], "operation": "maybe"},
        "not an object",
    ]
    openai_stub.script = [reply_json({"facts": [*bad, FACTS[2]]})]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert contents(result.facts) == ["User loves green tea"]
    assert result.rejected == 4
    assert len(openai_stub.chat_requests()) == 1


async def test_cosmetic_fields_are_defaulted_not_dropped(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    odd = [
        {**FACTS[0], "valid_from": "2024-05"},
        {**FACTS[0], "valid_from": "next week"},
        {**FACTS[0], "valid_from": 12},
        {**FACTS[0], "importance": 0},
        {**FACTS[0], "importance": 11},
        {**FACTS[0], "importance": "high"},
        {**FACTS[0], "memory_type": "gossip"},
        {key: value for key, value in FACTS[0].items() if key not in ("memory_type", "importance")},
    ]
    openai_stub.script = [reply_json({"facts": odd})]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert len(result.facts) == len(odd) and result.rejected == 0
    month, week, number, low, high, word, gossip, bare = result.facts
    assert month.valid_from is None and week.valid_from is None and number.valid_from is None
    assert (low.importance, high.importance, word.importance) == (1, 10, 5)
    assert gossip.memory_type == "factual"
    assert (bare.memory_type, bare.importance) == ("factual", 5)
    assert low.valid_from == datetime(2024, 4, 1, tzinfo=UTC)


async def test_facts_drawn_only_from_context_turns_are_dropped_and_counted(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    greeting = {**FACTS[2], "content": "User greeted the assistant", "source_turns": [0, 1]}
    mixed = {**FACTS[0], "source_turns": [1, 2]}  # context may help resolve a new turn's fact
    openai_stub.script = [reply_json({"facts": [greeting, mixed]})]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert contents(result.facts) == ["User moved to Berlin"] and result.facts[0].source_turns == [1, 2]
    assert result.rejected == 1
    assert len(openai_stub.chat_requests()) == 1


async def test_only_context_facts_is_an_empty_answer_not_a_failure(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [reply_json({"facts": [{**FACTS[2], "source_turns": [0]}]})]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await FallbackExtractor(LlmExtractor(chat, max_tokens=300), HeuristicExtractor()).extract(
            CONVERSATION
        )
    finally:
        await chat.aclose()
    assert result.extractor == "llm:stub-model" and result.facts == [] and result.rejected == 1


async def test_nothing_to_extract_is_an_answer(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [reply_json({"facts": []})]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert result.facts == [] and result.extractor == "llm:stub-model"
    assert len(openai_stub.chat_requests()) == 1


async def test_no_new_turns_costs_no_call(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    chat = chat_model(openai_stub_server[0])
    try:
        done = Conversation("u1", "s1", TURNS, new_from=len(TURNS))
        result = await LlmExtractor(chat, max_tokens=300).extract(done)
    finally:
        await chat.aclose()
    assert result.facts == [] and result.usage is None
    assert openai_stub.requests == []


async def test_fenced_json_is_accepted(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [Reply("```json\n" + json.dumps({"facts": FACTS[:1]}) + "\n```")]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert contents(result.facts) == ["User moved to Berlin"]


@pytest.mark.parametrize(
    "bad", [MALFORMED, TRUNCATED, WRONG_SCHEMA, ALL_INVALID], ids=lambda r: r.content[:12]
)
async def test_an_unusable_answer_gets_a_new_call(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub, bad: Reply
) -> None:
    openai_stub.script = [bad, VALID]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert contents(result.facts) == [f["content"] for f in FACTS]
    first, second = openai_stub.chat_requests()
    # The second call says what was wrong, so it is not the same call again.
    assert second["body"]["messages"][:2] == first["body"]["messages"]
    assert "could not be used" in second["body"]["messages"][2]["content"]
    assert result.usage is not None
    assert result.usage.prompt_tokens == sum(
        len(m["content"].split()) for r in (first, second) for m in r["body"]["messages"]
    )


async def test_always_malformed_falls_back_to_the_heuristic_tier(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [MALFORMED, TRUNCATED]
    chat = chat_model(openai_stub_server[0])
    llm = LlmExtractor(chat, max_tokens=300)
    try:
        with pytest.raises(LlmExtractionFailed) as caught:
            await llm.extract(CONVERSATION)
        assert caught.value.reason == "truncated JSON: the answer hit max_tokens (2 calls)"
        assert isinstance(caught.value, LLMServiceError) and caught.value.code == "LLM_SERVICE_ERROR"
        assert caught.value.usage is not None and caught.value.usage.prompt_tokens > 0

        openai_stub.script = [MALFORMED, MALFORMED]
        result = await FallbackExtractor(llm, HeuristicExtractor()).extract(CONVERSATION)
    finally:
        await chat.aclose()
    expected = await HeuristicExtractor().extract(CONVERSATION)
    assert result.extractor.startswith("heuristic (llm failed: unparseable JSON")
    assert result.extractor.endswith("(2 calls))")
    assert contents(result.facts) == contents(expected.facts) != []
    assert result.prompt_version is None  # the heuristic tier has no prompt
    assert result.usage is not None and result.usage.model == "stub-model"  # the failed calls still cost
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


async def test_breaker_open_falls_back_without_calling(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [500] * 3
    chat = chat_model(openai_stub_server[0], breaker_failures=1, breaker_reset_seconds=60)
    tiered = FallbackExtractor(LlmExtractor(chat, max_tokens=300), HeuristicExtractor())
    try:
        first = await tiered.extract(CONVERSATION)
        second = await tiered.extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert first.extractor == "heuristic (llm failed: HTTP 500 after 3 attempts)"
    assert second.extractor.startswith("heuristic (llm failed: circuit breaker open")
    assert first.usage is None and second.usage is None  # no answer, no tokens
    assert contents(first.facts) == contents(second.facts) != []
    assert len(openai_stub.chat_requests()) == 3


class _Crashing:
    name = "llm"

    async def extract(self, conversation: Conversation) -> Any:
        raise KeyError("a bug")


async def test_a_crashing_primary_still_falls_back() -> None:
    result = await FallbackExtractor(_Crashing(), HeuristicExtractor()).extract(CONVERSATION)
    assert result.extractor == "heuristic (llm failed: unexpected KeyError)"
    assert result.facts


FAULTS: dict[str, list[Step]] = {
    "valid": [VALID],
    "malformed": [MALFORMED] * 2,
    "truncated": [TRUNCATED] * 2,
    "wrong-schema": [WRONG_SCHEMA] * 2,
    "all-facts-invalid": [ALL_INVALID] * 2,
    "malformed-then-valid": [MALFORMED, VALID],
    "timeout": ["sleep"] * 3,
    "timeout-then-valid": ["sleep", VALID],
    "429": [429] * 3,
    "429-then-valid": [429, 429, VALID],
    "500": [500] * 3,
    "500-then-valid": [500, VALID],
    "503-then-malformed-twice": [503, MALFORMED, MALFORMED],
    "401": [401],
}


@pytest.mark.parametrize("script", list(FAULTS.values()), ids=list(FAULTS))
async def test_zero_facts_lost_under_every_fault(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub, script: list[Step]
) -> None:
    openai_stub.script = list(script)
    openai_stub.sleep_seconds = 1.0
    chat = chat_model(openai_stub_server[0])
    try:
        result = await FallbackExtractor(LlmExtractor(chat, max_tokens=300), HeuristicExtractor()).extract(
            CONVERSATION
        )
    finally:
        await chat.aclose()
    heuristic = await HeuristicExtractor().extract(CONVERSATION)
    if result.extractor == "llm:stub-model":
        assert contents(result.facts) == [f["content"] for f in FACTS]
        assert result.prompt_version == PROMPT_VERSION
    else:
        assert result.extractor.startswith("heuristic (llm failed: ")
        assert contents(result.facts) == contents(heuristic.facts) != []
    expect_llm = any(step is VALID for step in script)
    assert (result.extractor == "llm:stub-model") is expect_llm


async def test_the_key_reaches_no_log_and_no_result(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    key = "sk-live-VERY-SECRET-42"
    openai_stub.json_schema_supported = False  # the format switch is logged too
    openai_stub.script = [MALFORMED, 401]  # the stub echoes the Authorization header in its error
    chat = chat_model(openai_stub_server[0], api_key=SecretStr(key))
    structlog.reset_defaults()  # an app started by an earlier test may have filtered out info events
    with structlog.testing.capture_logs() as logs:
        try:
            result = await FallbackExtractor(
                LlmExtractor(chat, max_tokens=300), HeuristicExtractor()
            ).extract(CONVERSATION)
        finally:
            await chat.aclose()
    assert openai_stub.chat_requests()[-1]["authorization"] == f"Bearer {key}"
    assert result.extractor.startswith("heuristic (llm failed: HTTP 401")
    assert {entry["event"] for entry in logs} >= {
        "llm.response_format",
        "llm.invalid_output",
        "extraction.fallback",
    }
    assert key not in repr(logs) and key not in repr(result)
