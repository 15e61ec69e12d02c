"""The heuristic extraction tier on realistic multi-turn conversations."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from membank.ingest.extraction.heuristic import HeuristicExtractor
from membank.ingest.extraction.ports import CandidateFact, Conversation, Role, Turn

NOW = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)  # a Monday


def conversation(
    *turns: tuple[Role, str], speakers: dict[Role, str] | None = None, new_from: int = 0
) -> Conversation:
    names = speakers or {}
    return Conversation(
        user_id="u1",
        session_id="s1",
        turns=[Turn(i, role, text, NOW, speaker=names.get(role)) for i, (role, text) in enumerate(turns)],
        new_from=new_from,
    )


async def extract(conv: Conversation) -> list[CandidateFact]:
    result = await HeuristicExtractor().extract(conv)
    assert result.extractor == "heuristic"
    return result.facts


async def test_moving_city_is_a_residence_fact_in_the_third_person() -> None:
    facts = await extract(conversation(("user", "I moved to Berlin last month.")))
    assert len(facts) == 1
    fact = facts[0]
    assert fact.content == "User moved to Berlin in April 2023."
    assert (fact.subject, fact.attribute, fact.operation) == ("user", "residence", "assert")
    assert fact.speaker == "user"
    assert fact.source_turns == [0]
    assert "Berlin" in fact.entities
    assert fact.valid_from == datetime(2023, 4, 1, tzinfo=UTC)


async def test_job_change_fills_employer_not_residence() -> None:
    facts = await extract(
        conversation(
            ("user", "I live in Paris."),
            ("assistant", "Nice! How is work going?"),
            ("user", "Great, I just started working at Google as a data scientist."),
        )
    )
    by_slot = {f.attribute: f for f in facts}
    assert set(by_slot) == {"residence", "employer"}
    assert by_slot["employer"].content == "User just started working at Google as a data scientist."
    # The answer carries the question that prompted it: the context that makes it findable.
    assert by_slot["employer"].source_turns == [1, 2]
    assert by_slot["residence"].source_turns == [0]


@pytest.mark.parametrize(
    ("text", "content", "attribute"),
    [
        ("Please forget that I like sushi.", "User likes sushi.", None),
        ("Can you forget my address?", "User's address.", "residence"),
        ("I no longer work at Acme.", "User works at Acme.", "employer"),
        ("I don't live in Paris anymore.", "User lives in Paris.", "residence"),
        ("I quit my job at Acme last week.", "User works at Acme.", "employer"),
        ("I stopped eating meat.", "User eats meat.", None),
        ("I'm not vegetarian anymore.", "User is vegetarian.", "diet"),
    ],
)
async def test_retractions_state_what_stops_being_true(
    text: str, content: str, attribute: str | None
) -> None:
    facts = await extract(conversation(("user", text)))
    assert [(f.operation, f.content, f.attribute) for f in facts] == [("retract", content, attribute)]


@pytest.mark.parametrize(
    "text",
    [
        "What do you think about Berlin?",
        "what do you think about moving abroad",
        "Do you know any good restaurants in Rome?",
        "Hi there! How are you?",
        "Thanks so much, that's really helpful!",
        "That's awesome! I'm so happy for you.",
        "Good luck with the exam, talk to you soon!",
        "Wow, cool!",
        "Help me plan a weekend trip to Rome next month.",
        "Please recommend a good Italian restaurant near the office",
    ],
)
async def test_questions_greetings_and_small_talk_store_nothing(text: str) -> None:
    assert await extract(conversation(("user", text))) == []


async def test_a_fact_inside_a_question_is_kept() -> None:
    facts = await extract(conversation(("user", "I just moved to Berlin, any tips?")))
    assert [(f.content, f.attribute) for f in facts] == [("User just moved to Berlin.", "residence")]


async def test_named_speaker_relative_date_and_entities() -> None:
    conv = conversation(
        ("assistant", "Hey Caroline! Good to see you! How have you been?"),
        ("user", "I went to a LGBTQ support group yesterday and it was so powerful."),
        speakers={"user": "Caroline", "assistant": "Melanie"},
    )
    facts = await extract(conv)
    assert len(facts) == 1
    fact = facts[0]
    assert fact.content == "Caroline went to a LGBTQ support group on 7 May 2023 and it was so powerful."
    assert fact.subject == "caroline"
    assert fact.speaker == "Caroline"
    assert fact.valid_from == datetime(2023, 5, 7, tzinfo=UTC)
    assert fact.source_turns == [0, 1]
    assert "LGBTQ" in fact.entities


async def test_assistant_confirmation_is_a_user_fact_but_its_advice_is_not() -> None:
    facts = await extract(
        conversation(
            ("user", "I don't eat meat at all."),
            ("assistant", "Got it, you're vegetarian. You should try the tofu place on Main Street."),
        ),
    )
    confirmed = [f for f in facts if f.speaker == "assistant"]
    assert [(f.content, f.subject, f.attribute) for f in confirmed] == [
        ("User is vegetarian.", "user", "diet")
    ]
    assert not any("tofu" in f.content for f in facts)


async def test_yes_confirms_the_assistants_question() -> None:
    facts = await extract(
        conversation(("assistant", "Do you live in Berlin?"), ("user", "Yes, that's right."))
    )
    assert [(f.content, f.attribute, f.source_turns) for f in facts] == [
        ("User lives in Berlin.", "residence", [0, 1])
    ]


async def test_only_new_turns_are_extracted() -> None:
    conv = conversation(
        ("user", "I work at Acme as an engineer."),
        ("assistant", "Cool."),
        ("user", "My favorite color is blue."),
        new_from=2,
    )
    facts = await extract(conv)
    assert [(f.content, f.attribute, f.memory_type) for f in facts] == [
        ("User's favorite color is blue.", "favorite_color", "preference")
    ]


async def test_several_turns_in_one_pass_each_attributed_to_its_speaker() -> None:
    conv = Conversation(
        user_id="u1",
        session_id="s9",
        turns=[
            Turn(0, "user", "I'm 34 and I'm married to Tom.", NOW, speaker="Anna"),
            Turn(1, "user", "Nice! I adopted a puppy named Biscuit last Friday.", NOW, speaker="Ben"),
            Turn(2, "user", "Aww, that's adorable!", NOW, speaker="Anna"),
        ],
    )
    facts = await extract(conv)
    assert [(f.subject, f.attribute) for f in facts] == [
        ("anna", "age"),
        ("anna", "relationship_status"),
        ("ben", None),
    ]
    assert facts[1].content == "Anna is married to Tom."
    assert facts[2].content == "Ben adopted a puppy named Biscuit on 5 May 2023."
    assert "Biscuit" in facts[2].entities
    assert facts[2].memory_type in ("event", "episodic")


async def test_a_repeated_fact_is_worded_the_same_way() -> None:
    first = await extract(conversation(("user", "I live in Lisbon.")))
    again = await extract(conversation(("user", "Hi! I live in Lisbon.")))
    assert [f.content for f in first] == [f.content for f in again] == ["User lives in Lisbon."]


async def test_plans_keep_their_date_in_content_but_are_not_valid_from_the_future() -> None:
    facts = await extract(conversation(("user", "I'm going to visit my sister in Chicago next Tuesday.")))
    assert len(facts) == 1
    assert facts[0].content == "User is going to visit User's sister in Chicago on 9 May 2023."
    assert facts[0].memory_type == "event"
    assert facts[0].valid_from is None
    assert "Chicago" in facts[0].entities


@pytest.mark.parametrize(
    ("text", "importance_at_least", "memory_type"),
    [
        ("I'm allergic to peanuts and shellfish.", 8, "personal"),
        ("My name is Priya Raman.", 8, "personal"),
    ],
)
async def test_identity_and_health_matter_more(text: str, importance_at_least: int, memory_type: str) -> None:
    facts = await extract(conversation(("user", text)))
    assert len(facts) == 1
    assert facts[0].importance >= importance_at_least
    assert facts[0].memory_type == memory_type


async def test_extraction_is_fast() -> None:
    conv = conversation(
        ("user", "I went to a pottery class yesterday with my friend Maya and made a bowl."),
        ("assistant", "That sounds fun! What will you make next?"),
        ("user", "Probably a vase. I'm also planning a trip to Japan next month with my husband."),
    )
    extractor = HeuristicExtractor()
    started = time.perf_counter()
    for _ in range(200):
        extractor.extract_facts(conv)
    assert (time.perf_counter() - started) / 200 < 0.005


async def test_casual_turn_loses_the_vocative_keeps_its_weaker_sentences_and_gets_its_subject_back() -> None:
    conv = conversation(
        ("user", "James, been a few days since we chatted. Whenever I come here, I bring my camera. Nice."),
        speakers={"user": "John"},
    )
    facts = await extract(conv)
    assert [f.content for f in facts] == [
        "It's been a few days since John and others chatted. Whenever John comes here, John brings John's camera."
    ]
    assert "James" not in facts[0].entities


@pytest.mark.parametrize(
    ("text", "slot"),
    [
        ("I'm no writer like you, but I painted a mural in Denver.", None),
        ("One of my favorite dishes is lasagna with spinach and ricotta.", None),
        ("I'm a nurse at the Mercy hospital downtown.", "job_title"),
    ],
)
async def test_slots_need_an_exclusive_statement(text: str, slot: str | None) -> None:
    facts = await extract(conversation(("user", text)))
    assert len(facts) == 1
    assert facts[0].attribute == slot


async def test_thanks_and_the_listeners_name_alone_are_not_facts() -> None:
    conv = conversation(
        ("assistant", "Who was singing?"),
        (
            "user",
            "Thanks, Caroline! It was Matt Patterson, he is so talented! Thanks for asking about the show.",
        ),
        speakers={"user": "Melanie", "assistant": "Caroline"},
    )
    facts = await extract(conv)
    assert [f.content for f in facts] == ["It was Matt Patterson, he is so talented! (about singing)"]


async def test_the_listeners_name_at_the_end_is_dropped() -> None:
    conv = conversation(
        ("assistant", "How was the trip?"),
        (
            "user",
            "We explored the coast and hiked up Mount Hood, Caroline! It was an awesome time, Caroline.",
        ),
        speakers={"user": "Melanie", "assistant": "Caroline"},
    )
    facts = await extract(conv)
    assert [f.content for f in facts] == [
        "Melanie and others explored the coast and hiked up Mount Hood! (about trip)"
    ]
    assert "Caroline" not in facts[0].entities


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Don't feel like I'm making much of an impact at the studio lately.", True),
        ("Can't wait to visit Boston next month with my sister.", True),
        ("Do you know a good vegan restaurant in Lisbon", False),
        ("Can you recommend a good hiking trail near Denver", False),
    ],
)
async def test_an_auxiliary_opens_a_question_only_before_its_subject(text: str, kept: bool) -> None:
    facts = await extract(conversation(("user", text)))
    assert bool(facts) is kept, facts


def chat(*lines: tuple[str, str]) -> Conversation:
    """Two named people talking, every turn of role "user" (how LOCOMO-style chats arrive)."""
    turns = [Turn(i, "user", text, NOW, speaker=who) for i, (who, text) in enumerate(lines)]
    return Conversation(user_id="u1", session_id="s1", turns=turns)


async def test_a_reply_carries_the_topic_of_the_question_it_answers() -> None:
    facts = await extract(
        chat(
            ("Melanie", "How was your trip to Paris?"),
            ("Caroline", "It was wonderful, we walked along the Seine every evening and ate croissants."),
        )
    )
    assert [(f.content, f.source_turns) for f in facts] == [
        (
            "It was wonderful, Caroline and others walked along the Seine every evening and ate croissants."
            " (about Caroline's trip to Paris)",
            [0, 1],
        )
    ]
    facts = await extract(
        chat(
            ("Joanna", "Wow! What did you think of the coconut milk ice cream you made?"),
            ("Nate", "It was rich and creamy - might be my new favorite snack!"),
        )
    )
    assert [f.content for f in facts] == [
        "It was rich and creamy - might be Nate's new favorite snack! (about coconut milk ice cream)"
    ]
    assert len(facts) == 1


async def test_the_askers_own_things_are_named_and_words_already_said_are_not_repeated() -> None:
    facts = await extract(
        chat(
            ("Maria", "Did my sister tell you about the charity run?"),
            ("John", "She did, and I signed up for the charity run next month with my brother."),
        )
    )
    assert [f.content for f in facts] == [
        "John signed up for the charity run in June 2023 with John's brother. (about Maria's sister)"
    ]


async def test_a_fact_opening_with_a_pronoun_takes_the_topic_of_what_it_replies_to() -> None:
    facts = await extract(
        chat(
            ("Maria", "The shelter finally got the extra funding from the city council."),
            ("John", "It enabled needed repairs and renovations of the kitchen and the dormitory roof."),
        )
    )
    assert facts[-1].content == (
        "It enabled needed repairs and renovations of the kitchen and the dormitory roof."
        " (about shelter finally, extra funding from the city council)"
    )
    assert facts[-1].source_turns == [1]


@pytest.mark.parametrize(
    "question", ["What's up?", "How are you doing these days?", "Are you feeling good about it?", "What now?"]
)
async def test_a_question_without_content_words_adds_nothing(question: str) -> None:
    reply = "I spent the whole weekend repairing my old bike in the garage."
    facts = await extract(chat(("Joanna", question), ("Nate", reply)))
    assert [(f.content, f.source_turns) for f in facts] == [
        ("Nate spent the whole weekend repairing Nate's old bike in the garage.", [0, 1])
    ]
