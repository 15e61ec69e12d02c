"""Both twins against a real server: memories' life cycle, search, batches, jobs, conversations, context
synthesis, pagination, keys."""

from __future__ import annotations

import uuid
from typing import Any

from membank.client import (
    ApiKey,
    BatchAccepted,
    Context,
    IssuedKey,
    Job,
    Memory,
    MemoryPage,
    SearchResult,
    Unauthorized,
)
from tests.sdk.conftest import close, collect, resolve, twin


def _user() -> str:
    return f"sdk-{uuid.uuid4().hex[:12]}"


async def test_create_get_update_history_delete(client: Any) -> None:
    user = _user()
    created = await resolve(
        client.memories.create(user, "The user likes green tea", tags=["drinks"], importance=7)
    )
    assert isinstance(created, Memory)
    assert (created.user_id, created.content, created.tags, created.importance) == (
        user,
        "The user likes green tea",
        ["drinks"],
        7,
    )
    fetched = await resolve(client.memories.get(created.id))
    assert fetched.id == created.id and fetched.created_at == created.created_at

    updated = await resolve(client.memories.update(created.id, content="The user likes jasmine tea"))
    assert updated.content == "The user likes jasmine tea" and updated.version == created.version + 1
    history = await resolve(client.memories.history(updated.id))
    assert [version.new_content for version in history.history][-1] == "The user likes jasmine tea"

    stats = await resolve(client.memories.stats(user))
    assert stats.active == 1
    deleted = await resolve(client.memories.delete(updated.id))
    assert deleted.deleted is True and deleted.id == updated.id
    page = await resolve(client.memories.list(user))
    assert isinstance(page, MemoryPage) and page.total == 0


async def test_batch_wait_for_and_search(client: Any) -> None:
    user = _user()
    facts = ["The user plays the cello", "The user lives in Porto", "The user is allergic to peanuts"]
    accepted = await resolve(client.memories.batch([{"user_id": user, "content": fact} for fact in facts]))
    assert isinstance(accepted, Job) and accepted.status in ("queued", "processing", "completed")
    job = await resolve(client.jobs.wait_for(accepted.id, timeout=120, poll=0.05))
    assert job.status == "completed" and job.result is not None and job.result["created"] == 3
    items = await resolve(client.jobs.items(job.id))
    assert [item.status for item in items.items] == ["created"] * 3

    found = await resolve(client.memories.search(user, "which instrument does the user play", limit=2))
    assert isinstance(found, SearchResult)
    assert found.memories[0].content == "The user plays the cello" and found.memories[0].score > 0
    assert len(found.memories) == 2


async def test_conversations_batch_and_context(client: Any) -> None:
    user = _user()
    job = await resolve(
        client.memories.process_conversation(
            user, "I moved to Berlin last month.", "Welcome to Berlin!", session_id="s1", wait=True
        )
    )
    assert isinstance(job, Job) and job.status == "completed", job
    inferred = await resolve(client.memories.create(user, "I work as a pilot.", infer=True, wait=True))
    assert isinstance(inferred, Job) and inferred.status == "completed", inferred
    context = await resolve(client.memories.synthesize_context(user, "where does the user live"))
    assert isinstance(context, Context)
    assert any("Berlin" in memory.content for memory in context.memories) and "Berlin" in context.context
    sessions = await resolve(client.users.sessions(user))
    assert [session.session_id for session in sessions.sessions] == ["s1"]
    session = await resolve(client.users.session(user, "s1"))
    assert session.turn_count >= 1

    batch = await resolve(
        client.memories.batch(
            conversations=[{"session_id": "s2", "messages": [_said("I am a nurse.")]}], user_id=user
        )
    )
    assert isinstance(batch, BatchAccepted) and batch.job_count == 1
    await resolve(client.jobs.wait_for(batch.job_ids[0], timeout=120, poll=0.05))
    followed = await resolve(client.batches.get(batch.batch_id))
    assert followed.batch_id == batch.batch_id and followed.status == "completed"


def _said(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


async def test_iter_yields_every_memory_across_pages(client: Any) -> None:
    user = _user()
    contents = [f"Fact number {i} about the user" for i in range(23)]
    job = await resolve(
        client.memories.batch([{"user_id": user, "content": text} for text in contents], wait=True)
    )
    assert job.status == "completed"
    seen = await collect(client.memories.iter(user, page_size=5))
    assert sorted(memory.content for memory in seen) == sorted(contents)
    assert len({memory.id for memory in seen}) == 23


async def test_keys_create_list_revoke(client: Any, kind: str, server: Any) -> None:
    issued = await resolve(client.keys.create(f"sdk-{uuid.uuid4().hex[:6]}", scopes=["memories:read"]))
    assert isinstance(issued, IssuedKey) and issued.key.startswith("mbk_")
    assert issued.key not in repr(issued)  # a logged model does not leak the secret
    listed = await resolve(client.keys.list())
    assert all(isinstance(key, ApiKey) for key in listed) and issued.id in {key.id for key in listed}

    reader = twin(kind, server.url, api_key=issued.key)
    try:
        assert (await resolve(reader.memories.list("anyone"))).total == 0
        revoked = await resolve(client.keys.revoke(issued.id))
        assert revoked.revoked_at is not None
        try:
            await resolve(reader.memories.list("anyone"))
        except Unauthorized as exc:
            assert exc.status == 401 and exc.request_id
        else:
            raise AssertionError("a revoked key was accepted")
    finally:
        await close(reader)
