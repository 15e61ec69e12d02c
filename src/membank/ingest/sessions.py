"""The rolling session summary: what a session established so far, and its latest messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from membank.ingest.extraction.ports import Turn
from membank.models import from_epoch, iso, to_epoch
from membank.storage.ports import SessionState

KEY_FACTS = 20
RECENT_MESSAGES = 10
MESSAGE_PREVIEW = 500
SUMMARY_FACTS = 8


def next_session_state(
    previous: SessionState | None,
    *,
    tenant_id: str,
    user_id: str,
    session_id: str,
    new_turns: list[Turn],
    actions: list[dict[str, Any]],
    now: datetime,
) -> SessionState:
    """The session after these turns: facts added or updated join the key facts, retracted ones leave."""
    started = (
        previous.started_at if previous else to_epoch(min((t.timestamp for t in new_turns), default=now))
    )
    key_facts = list(previous.key_facts) if previous else []
    retracted = {a["old"] for a in actions if a["event"] == "DELETE"} | {
        a["old"] for a in actions if a["event"] == "UPDATE"
    }
    key_facts = [fact for fact in key_facts if fact not in retracted]
    key_facts += [a["new"] for a in actions if a["event"] in ("ADD", "UPDATE") and a["new"] not in key_facts]
    key_facts = key_facts[-KEY_FACTS:]
    recent = (list(previous.recent_messages) if previous else []) + [_preview(t) for t in new_turns]
    turn_count = (previous.turn_count if previous else 0) + len(new_turns)
    fact_count = (previous.fact_count if previous else 0) + sum(
        a["event"] in ("ADD", "UPDATE") for a in actions
    )
    last_message = max((t.timestamp for t in new_turns), default=None)
    return SessionState(
        tenant_id=tenant_id,
        user_id=user_id,
        session_id=session_id,
        summary=_render(turn_count, started, key_facts),
        key_facts=key_facts,
        recent_messages=recent[-RECENT_MESSAGES:],
        turn_count=turn_count,
        fact_count=fact_count,
        started_at=started,
        updated_at=to_epoch(now),
        last_message_at=to_epoch(last_message)
        if last_message
        else (previous.last_message_at if previous else None),
    )


def _preview(turn: Turn) -> dict[str, Any]:
    return {
        "role": turn.role,
        "name": turn.speaker,
        "content": turn.content[:MESSAGE_PREVIEW],
        "timestamp": iso(turn.timestamp),
    }


def _render(turn_count: int, started: float, key_facts: list[str]) -> str:
    since = from_epoch(started).strftime("%d %B %Y").lstrip("0")
    head = f"{turn_count} message{'s' if turn_count != 1 else ''} since {since}."
    if not key_facts:
        return f"{head} No facts established yet."
    latest = key_facts[-SUMMARY_FACTS:]
    return f"{head} Established: " + " ".join(f if f.endswith(".") else f + "." for f in latest)


def session_out(state: SessionState) -> dict[str, Any]:
    """The public JSON form of a session."""
    return {
        "session_id": state.session_id,
        "user_id": state.user_id,
        "summary": state.summary,
        "key_facts": state.key_facts,
        "recent_messages": state.recent_messages,
        "turn_count": state.turn_count,
        "fact_count": state.fact_count,
        "started_at": _iso_epoch(state.started_at),
        "last_message_at": _iso_epoch(state.last_message_at),
        "updated_at": _iso_epoch(state.updated_at),
    }


def _iso_epoch(value: float | None) -> str | None:
    return None if value is None else iso(from_epoch(value))
