"""Assistant text is not the user's: whatever role labels the client sends, an assistant's turn yields only
what it states about the user or what the user confirms, within the per-turn budget, in both tiers."""

from __future__ import annotations

from datetime import UTC, datetime
from pydoc_data.topics import topics
from typing import Any

import pytest
from pydantic import SecretStr

from membank.ingest.extraction.authorship import (
    ASSISTANT_TURN_FACTS,
    EXPOSITORY_WORDS,
    WORDS_PER_FIRST_PERSON,
    assistant_turns,
    is_assistant_name,
)
from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.llm import LlmExtractor
from membank.ingest.extraction.ports import CandidateFact, Conversation, Role, Turn
from membank.providers.llms import OpenAIChatModel
from tests.support.openai_stub import OpenAIStub, reply_json

NOW = datetime(2024, 5, 8, 10, 0, tzinfo=UTC)


def help_text(topic: str, chars: int = 2000) -> str:
    """CPython's help on `topic`, cut at a sentence end: an assistant's answer of several hundred tokens."""
    flat = " ".join(topics[topic].split())
    return flat[: flat.rfind(". ", 0, chars) + 1]


# (role, name, agent_id) of the assistant's turns: every way clients were seen to label them.
LABELLINGS = [
    pytest.param("assistant", None, None, id="role-assistant"),
    pytest.param("user", "assistant", None, id="named-assistant"),
    pytest.param("user", "AI", None, id="named-AI"),
    pytest.param("user", "Aria", "aria", id="named-as-the-agent"),
    pytest.param("user", None, None, id="unlabelled"),
]


def chat(
    *turns: tuple[str, str], role: Role = "assistant", name: str | None = None, agent_id: str | None = None
) -> Conversation:
    """Turns of ("user" | "assistant", text), the assistant's labelled with `role` and `name`."""
    return Conversation(
        user_id="u1",
        session_id="s1",
        turns=[
            Turn(i, "user", text, NOW) if author == "user" else Turn(i, role, text, NOW, speaker=name)
            for i, (author, text) in enumerate(turns)
        ],
        agent_id=agent_id,
    )


def facts_of(conversation: Conversation) -> list[CandidateFact]:
    return HeuristicExtractor().extract_facts(conversation)


@pytest.mark.parametrize(("role", "name", "agent_id"), LABELLINGS)
def test_long_answers_yield_nothing_but_the_users_own_facts(
    role: Role, name: str | None, agent_id: str | None
) -> None:
    answers = [help_text(topic) for topic in ("with", "exceptions", "class")]
    assert all(len(answer.split()) >= EXPOSITORY_WORDS for answer in answers)
    conversation = chat(
        ("user", "I moved to Porto last month. How does the with statement work?"),
        ("assistant", answers[0]),
        ("user", "Can you explain exceptions?"),
        ("assistant", answers[1]),
        ("user", "And classes?"),
        ("assistant", answers[2]),
        role=role,
        name=name,
        agent_id=agent_id,
    )
    assert assistant_turns(conversation) == {1, 3, 5}
    facts = facts_of(conversation)
    assert [(f.subject, f.attribute, f.source_turns) for f in facts] == [("user", "residence", [0])]


@pytest.mark.parametrize(("role", "name", "agent_id"), LABELLINGS[:4])
@pytest.mark.parametrize(
    ("said", "content", "attribute"),
    [
        ("You said you live in Porto.", "User lives in Porto.", "residence"),
        ("You mentioned you moved to Porto, so here is a local tip.", "User moved to Porto.", "residence"),
        ("Got it, you're vegetarian.", "User is vegetarian.", "diet"),
        ("Since you are allergic to peanuts, skip the satay.", "User is allergic to peanuts.", None),
    ],
)
def test_what_the_assistant_states_about_the_user_is_the_users_fact(
    role: Role, name: str | None, agent_id: str | None, said: str, content: str, attribute: str | None
) -> None:
    answer = f"{said} {help_text('for')}"
    conversation = chat(
        ("user", "How do for loops work?"), ("assistant", answer), role=role, name=name, agent_id=agent_id
    )
    facts = facts_of(conversation)
    assert [(f.content, f.subject, f.attribute, f.source_turns) for f in facts] == [
        (content, "user", attribute, [1])
    ]


@pytest.mark.parametrize(
    "answer",
    [
        "You should try the tofu place on Main Street.",
        "Got it, you should try the tofu place on Main Street.",
        "If you live in Porto, the Bolhão market is worth a visit.",
        "You mentioned you might move to Lisbon in the spring.",
        "Okay, you can use a context manager to close the file.",
        "Since you will need a visa for Japan, apply early.",
        "Sure, you're welcome. Great, you're all set.",
    ],
)
def test_what_the_assistant_only_supposes_or_advises_is_not_a_fact(answer: str) -> None:
    assert facts_of(chat(("user", "Any tips?"), ("assistant", answer), role="user", name="AI")) == []


def test_a_yes_to_advice_is_not_a_fact() -> None:
    conversation = chat(("assistant", "So you should move to Lisbon in the spring?"), ("user", "Yes."))
    assert facts_of(conversation) == []


@pytest.mark.parametrize(("role", "name"), [("assistant", None), ("user", "AI")])
def test_the_users_yes_confirms_what_the_assistant_asked_about_them(role: Role, name: str | None) -> None:
    for question in ("So you moved to Porto last year?", "You moved to Porto last year, right?"):
        conversation = chat(("assistant", question), ("user", "Yes, that's right."), role=role, name=name)
        (fact,) = facts_of(conversation)
        assert (fact.subject, fact.attribute, fact.source_turns) == ("user", "residence", [0, 1])
        assert fact.content.startswith("User moved to Porto in 2023.")


def test_a_yes_to_the_assistants_general_claim_is_not_a_fact() -> None:
    conversation = chat(
        ("assistant", "The GIL stops threads from running Python bytecode in parallel, right?"),
        ("user", "Yes, exactly."),
        role="user",
        name="AI",
    )
    assert facts_of(conversation) == []


def test_one_assistant_turn_yields_at_most_its_budget_the_most_important_first() -> None:
    answer = (
        "You mentioned you work at Siemens. You told me you have two kids named Ana and Rui. "
        "Got it, you're allergic to peanuts. As you said, your partner Joana is a nurse."
    )
    facts = facts_of(chat(("user", "Hi!"), ("assistant", answer), role="user", name="assistant"))
    assert ASSISTANT_TURN_FACTS == 2
    assert [(f.content, f.importance) for f in facts] == [
        ("User works at Siemens.", 7),
        ("User is allergic to peanuts.", 8),
    ]


def test_a_human_conversation_is_read_as_before() -> None:
    """LOCOMO style: every turn role "user" with the speaker's name, one long answer among them."""
    long_answer = (
        "Thanks for asking, Melanie! The support group was intense but so good. I went with my friend Jolene "
        "and we listened to stories from people who came out late in life. One woman talked about moving "
        "across the country to start over, and it reminded me why I want to study counseling. I've been "
        "reading about programs at the state university, and my plan is to apply in the fall. My mom thinks "
        "it's a great idea and she offered to help with the application fees. Honestly, I feel like this is "
        "the first time I know exactly what I want to do with my life."
    )
    said = [
        ("Melanie", "Hey Caroline! How was the support group yesterday? Did you meet anyone new?"),
        ("Caroline", long_answer),
        ("Melanie", "That's awesome! I ran a charity race for mental health last Saturday."),
        ("Caroline", "Wow, how did it go?"),
        ("Melanie", "It was hard but worth it, and my kids cheered at the finish line."),
    ]
    conversation = Conversation(
        "u1", "s1", [Turn(i, "user", text, NOW, speaker=who) for i, (who, text) in enumerate(said)]
    )
    assert assistant_turns(conversation) == frozenset()
    facts = facts_of(conversation)
    assert [(f.subject, f.speaker, f.source_turns) for f in facts] == [
        ("caroline", "Caroline", [0, 1]),
        ("melanie", "Melanie", [2]),
        ("melanie", "Melanie", [3, 4]),
    ]
    assert "Jolene" in facts[0].content and "counseling" in facts[0].content


def test_an_unlabelled_long_answer_is_the_assistants_only_when_it_hardly_says_i() -> None:
    answer = help_text("with")
    words = len(answer.split())
    in_passing = f"I left the async form out. {answer}"
    personal = " ".join(["My team uses it daily."] * (words // WORDS_PER_FIRST_PERSON + 1) + [answer])
    question = ("user", "How does the with statement work?")
    assert assistant_turns(chat(question, ("user", answer))) == {1}
    assert assistant_turns(chat(question, ("user", in_passing))) == {1}
    assert assistant_turns(chat(question, ("user", personal))) == frozenset()
    assert assistant_turns(chat(("user", "Tell me about it."), ("user", answer))) == frozenset()
    short = " ".join(answer.split()[: EXPOSITORY_WORDS - 10])
    assert assistant_turns(chat(question, ("user", short))) == frozenset()


@pytest.mark.parametrize(
    ("name", "agent_id", "assistant"),
    [
        ("assistant", None, True),
        ("AI", None, True),
        ("ChatGPT", None, True),
        ("GPT-4o mini", None, True),
        ("Claude 3.5 Sonnet", None, True),
        ("AI Assistant", None, True),
        ("support-bot", "support-bot", True),
        ("Aria", "aria", True),
        ("Aria", None, False),
        ("Claude Monet", None, False),
        ("Caroline", None, False),
        ("Botswana", None, False),
        (None, None, False),
    ],
)
def test_assistant_names(name: str | None, agent_id: str | None, assistant: bool) -> None:
    assert is_assistant_name(name, agent_id) is assistant


# -- the LLM tier: the same rule after the model answers ---------------------------------------------


def llm_fact(content: str, subject: str, source_turns: list[int], importance: int = 5) -> dict[str, Any]:
    return {
        "content": content,
        "memory_type": "factual",
        "importance": importance,
        "subject": subject,
        "attribute": None,
        "operation": "assert",
        "entities": [],
        "source_turns": source_turns,
        "speaker": "",
        "valid_from": None,
    }


async def llm_extract(url: str, conversation: Conversation) -> tuple[list[str], int]:
    model = OpenAIChatModel(
        base_url=url, model="stub-model", api_key=SecretStr("sk-test"), timeout=2.0, max_retries=0
    )
    try:
        result = await LlmExtractor(model, max_tokens=300).extract(conversation)
    finally:
        await model.aclose()
    return [f.content for f in result.facts], result.rejected


async def test_llm_facts_from_assistant_turns_keep_only_the_users(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    conversation = chat(
        ("user", "I started a new job. How does the with statement work?"),
        ("assistant", f"You said you live in Porto. {help_text('with')}"),
        ("user", "And exceptions?"),
        ("assistant", help_text("exceptions")),
        role="user",
        name="AI",
    )
    openai_stub.script = [
        reply_json(
            {
                "facts": [
                    llm_fact("User started a new job", "user", [0]),
                    llm_fact("User lives in Porto", "user", [1]),
                    llm_fact("The with statement calls __enter__ and __exit__", "python", [1]),
                    llm_fact("User is learning about Python exceptions", "user", [3]),
                    llm_fact("User asked about exceptions after the with statement", "user", [2, 3]),
                ]
            }
        )
    ]
    kept, rejected = await llm_extract(openai_stub_server[0], conversation)
    assert kept == [
        "User started a new job",
        "User lives in Porto",
        "User asked about exceptions after the with statement",
    ]
    assert rejected == 2
    prompt = openai_stub.chat_requests()[0]["body"]["messages"]
    assert "Never extract the assistant's explanations" in prompt[0]["content"]
    assert "[1] 2024-05-08 AI (assistant): You said you live in Porto." in prompt[1]["content"]
    assert "[0] 2024-05-08 User: I started a new job." in prompt[1]["content"]


async def test_llm_facts_of_one_assistant_turn_stay_within_its_budget(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    conversation = chat(
        ("user", "Hi!"),
        ("assistant", "Got it, you're vegetarian. So you moved to Porto last year?"),
        ("user", "Yes."),
    )
    openai_stub.script = [
        reply_json(
            {
                "facts": [
                    llm_fact("User is vegetarian", "user", [1], importance=6),
                    llm_fact("User likes cooking", "user", [1], importance=3),
                    llm_fact("User moved to Porto", "user", [1], importance=7),
                ]
            }
        )
    ]
    kept, rejected = await llm_extract(openai_stub_server[0], conversation)
    assert (kept, rejected) == (["User is vegetarian", "User moved to Porto"], 1)


async def test_llm_fact_the_user_confirmed_is_kept(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    confirmed = chat(("assistant", "So you moved to Porto last year?"), ("user", "Yes, that's right."))
    unconfirmed = chat(("assistant", "So you moved to Porto last year?"), ("user", "No, to Braga."))
    fact = reply_json({"facts": [llm_fact("User moved to Porto", "user", [0])]})
    openai_stub.script = [fact, fact]
    assert await llm_extract(openai_stub_server[0], confirmed) == (["User moved to Porto"], 0)
    assert await llm_extract(openai_stub_server[0], unconfirmed) == ([], 1)
