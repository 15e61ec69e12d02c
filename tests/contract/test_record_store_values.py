"""RecordStore contract, strange values: whatever the API accepts must read back exactly from every backend:
the deepest metadata (10 levels), the 64-bit integer extremes, Unicode that normalisation or a byte-wise
cut would change, very long text, and times at the edges of the accepted range."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from membank.models import Memory, content_hash
from membank.models.time import EARLIEST, LATEST
from membank.storage.ports import RecordStore, StoredResponse
from tests.contract.records import MODEL, memory, session, successor, vector

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# Astral-plane emoji and a ZWJ family, right-to-left text with embedding marks, a decomposed "é" (e + U+0301,
# which NFC would fold into one code point), a zero-width space, quotes and SQL/LIKE metacharacters.
STRANGE = (
    "\U0001f600 \U0001f468\u200d\U0001f469\u200d\U0001f467"  # emoji, and a family joined by ZWJ
    " \u05e9\u200f\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"  # Hebrew with an RLM, Arabic
    " e\u0301 \u00c5ngstr\u00f6m \u200b"  # decomposed e-acute, Latin-1, a zero-width space
    " 'quote' \"double\" \\ % _ ; DROP TABLE memories; -- \r\n\ttab"
)


def _deepest_metadata() -> dict[str, Any]:
    """An object nested 10 levels deep (the API's max_metadata_depth, the object itself counting as one)."""
    node: dict[str, Any] = {"max": INT64_MAX, "min": INT64_MIN, "text": STRANGE}
    for level in range(9, 0, -1):
        node = {f"level {level} \u2713": node, "list": [INT64_MAX, INT64_MIN, 0, -1, 1.5, None, True]}
    return node


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _stored(store: RecordStore, created: Memory) -> Memory | None:
    store.memories.insert([created], [vector(1.0)], MODEL, actor=STRANGE)
    return store.memories.get(created.tenant_id, created.id)


def test_the_deepest_metadata_and_64_bit_integers_round_trip(record_store: RecordStore) -> None:
    metadata = _deepest_metadata()
    assert _depth(metadata) == 10
    created = memory(
        metadata=metadata,
        source_refs=[{"offset": INT64_MAX, "nested": {"min": INT64_MIN}}],
        tags=[STRANGE, "e\u0301", "\u00e9"],
        entities=["\u00c5ngstr\u00f6m", "\u05e9\u200f\u05dc\u05d5\u05dd"],
    )

    stored = _stored(record_store, created)

    assert stored == created
    assert stored is not None and stored.metadata["list"][0] == INT64_MAX
    assert type(stored.metadata["list"][1]) is int  # not a float that happens to compare equal


def test_unicode_content_is_kept_code_point_for_code_point(record_store: RecordStore) -> None:
    created = memory(content=STRANGE, summary=STRANGE)

    stored = _stored(record_store, created)

    assert stored is not None
    assert stored.content == STRANGE and len(stored.content) == len(STRANGE)
    assert "e\u0301" in stored.content and "\u00e9" not in stored.content
    assert record_store.memories.valid_with_hash("t1", "u1", content_hash(STRANGE), at=2e9) == [created]
    (entry,) = record_store.memories.history("t1", created.lineage_id)
    assert (entry.new_content, entry.actor) == (STRANGE, STRANGE)


def test_very_long_content_round_trips(record_store: RecordStore) -> None:
    long_text = ("\u00dcn\u00efc\u00f6d\u00e9 \U0001f600 " * 10_000)[:100_000]
    assert len(long_text.encode()) > 100_000
    created = memory(content=long_text)

    stored = _stored(record_store, created)

    assert stored is not None and stored.content == long_text
    closed, new = successor(created, long_text + " (edited)")
    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="editor")
    assert record_store.memories.history("t1", created.lineage_id)[-1].old_content == long_text


def test_a_nul_character_inside_stored_json_round_trips(record_store: RecordStore) -> None:
    # PostgreSQL text cannot hold U+0000, so the API refuses it in every string of a body (400 naming the
    # field, tests/api/test_nul_characters_api.py); stored JSON keeps it escaped on every backend.
    created = memory(metadata={"nul": "x\x00y"})

    assert _stored(record_store, created) == created


@pytest.mark.parametrize(
    ("valid_from", "valid_to"),
    [
        (EARLIEST, LATEST),
        (EARLIEST, datetime(1700, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        (datetime(2200, 12, 31, 23, 59, 59, 999_998, tzinfo=UTC), LATEST),
        (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)),
    ],
    ids=["whole-range", "first-microsecond", "last-microsecond", "around-the-epoch"],
)
def test_times_at_the_edges_of_the_range_round_trip_to_the_microsecond(
    record_store: RecordStore, valid_from: datetime, valid_to: datetime
) -> None:
    created = memory(valid_from=valid_from)
    created.valid_to = valid_to
    created.created_at = created.updated_at = valid_from
    created.deleted_at = valid_to

    stored = _stored(record_store, created)

    assert stored == created
    assert stored is not None and (stored.valid_from, stored.valid_to) == (valid_from, valid_to)
    assert stored.valid_from.tzinfo is not None and stored.valid_from.utcoffset() == UTC.utcoffset(None)
    # The validity query compares the same stored numbers: true from its first microsecond, not at its end.
    assert record_store.memories.valid_with_hash(
        "t1", "u1", created.content_hash, at=valid_from.timestamp()
    ) == [created]
    assert (
        record_store.memories.valid_with_hash("t1", "u1", created.content_hash, at=valid_to.timestamp()) == []
    )


def test_strange_values_in_sessions_round_trip(record_store: RecordStore) -> None:
    state = session(
        summary=STRANGE,
        key_facts=[STRANGE, "x" * 50_000],
        recent_messages=[{"role": "user", "content": STRANGE, "meta": _deepest_metadata()}],
        started_at=EARLIEST.timestamp(),
        updated_at=LATEST.timestamp(),
        last_message_at=LATEST.timestamp(),
        turn_count=2**31 - 1,
    )

    record_store.sessions.save(state, job_id=STRANGE)

    stored = record_store.sessions.get("t1", "u1", "s1")
    state.last_job_id = STRANGE
    assert stored == state


def test_strange_values_in_stored_responses_round_trip(record_store: RecordStore) -> None:
    body = {"data": _deepest_metadata(), "message": STRANGE, "big": [INT64_MAX, INT64_MIN]}
    response = StoredResponse("h", 201, body)

    record_store.idempotency.put("t1", STRANGE, response, LATEST.timestamp())

    assert record_store.idempotency.get("t1", STRANGE) == response
