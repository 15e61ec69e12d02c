"""MemBankStore, LangGraph's BaseStore over MemBank, against a real `membank serve`: driven through LangGraph's
own API (a compiled StateGraph with `store=`, and BaseStore's get/put/search/list_namespaces), checked also
through MemBank's API (one memory per item, its history)."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import InvalidNamespaceError, PutOp

from membank.adapters.langgraph import MemBankStore
from membank.client import AsyncMemBank, MemBank, ValidationFailed
from tests.e2e.conftest import Served

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(server: Served, tenant_key: str) -> Iterator[MemBank]:
    with MemBank(server.url, api_key=tenant_key) as made:
        yield made


@pytest.fixture
async def aclient(server: Served, tenant_key: str) -> AsyncIterator[AsyncMemBank]:
    async with AsyncMemBank(server.url, api_key=tenant_key) as made:
        yield made


@pytest.fixture
def store(client: MemBank, aclient: AsyncMemBank) -> MemBankStore:
    return MemBankStore(client, aclient=aclient)


class Chat(TypedDict):
    message: str
    recalled: Annotated[list[str], operator.add]


def remember_and_recall(state: Chat, runtime: Runtime[None]) -> dict[str, Any]:
    assert runtime.store is not None
    user = state["message"].split(":")[0]
    namespace = (user, "facts")
    runtime.store.put(namespace, "latest", {"text": state["message"]})
    found = runtime.store.search(namespace, query="where does the user live")
    return {"recalled": [item.value["text"] for item in found]}


async def aremember_and_recall(state: Chat, runtime: Runtime[None]) -> dict[str, Any]:
    assert runtime.store is not None
    user = state["message"].split(":")[0]
    namespace = (user, "facts")
    await runtime.store.aput(namespace, "latest", {"text": state["message"]})
    found = await runtime.store.asearch(namespace, query="where does the user live")
    return {"recalled": [item.value["text"] for item in found]}


def chat_graph(node: Any, store: MemBankStore) -> Any:
    builder = StateGraph(Chat)
    builder.add_node("remember", node)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder.compile(store=store)


def test_a_graph_node_writes_and_reads_memories_through_the_store(
    store: MemBankStore, client: MemBank, user: str
) -> None:
    graph = chat_graph(remember_and_recall, store)
    first = graph.invoke({"message": f"{user}: I live in Lisbon", "recalled": []})
    second = graph.invoke({"message": f"{user}: I moved to Porto", "recalled": []})

    assert first["recalled"] == [f"{user}: I live in Lisbon"]
    assert second["recalled"] == [f"{user}: I moved to Porto"]  # the put updated the item, no second one
    current = client.memories.list(user).memories
    assert [m.content for m in current] == [f"{user}: I moved to Porto"]
    assert [v.event for v in client.memories.history(current[0].id).history][-1] == "UPDATE"


async def test_an_async_graph_uses_the_async_client(store: MemBankStore, client: MemBank, user: str) -> None:
    graph = chat_graph(aremember_and_recall, store)
    result = await graph.ainvoke({"message": f"{user}: I live in Oslo", "recalled": []})

    assert result["recalled"] == [f"{user}: I live in Oslo"]
    assert [m.metadata["value"] for m in client.memories.list(user).memories] == [
        {"text": f"{user}: I live in Oslo"}
    ]


def test_a_put_to_an_existing_key_updates_its_memory_and_keeps_history(
    store: MemBankStore, client: MemBank, user: str
) -> None:
    namespace = (user, "profile")
    store.put(namespace, "diet", {"text": "vegetarian", "since": 2019})
    created = store.get(namespace, "diet")
    store.put(namespace, "diet", {"text": "vegan", "since": 2024})
    updated = store.get(namespace, "diet")

    assert created is not None and updated is not None
    assert (updated.namespace, updated.key, updated.value) == (
        namespace,
        "diet",
        {"text": "vegan", "since": 2024},
    )
    assert updated.created_at == created.created_at and updated.updated_at > created.updated_at
    memories = client.memories.list(user).memories
    assert len(memories) == 1 and memories[0].content == "vegan"
    history = client.memories.history(memories[0].id).history
    assert [(v.old_content, v.new_content) for v in history][-1] == ("vegetarian", "vegan")


async def test_a_delete_invalidates_the_memory_and_a_later_put_creates_it_anew(
    store: MemBankStore, client: MemBank, user: str
) -> None:
    namespace = (user, "profile")
    await store.aput(namespace, "city", {"text": "Lisbon"})
    kept = (await store.aget(namespace, "city"), client.memories.list(user).memories[0].id)
    await store.adelete(namespace, "city")

    assert kept[0] is not None
    assert await store.aget(namespace, "city") is None
    assert client.memories.list(user).total == 0
    assert client.memories.get(kept[1]).deleted_at is not None  # invalidated, not erased
    await store.adelete(namespace, "city")  # deleting what is not there is no error
    await store.aput(namespace, "city", {"text": "Porto"})
    again = await store.aget(namespace, "city")
    assert again is not None and again.value == {"text": "Porto"}


def test_search_by_prefix_query_and_filter(store: MemBankStore, user: str) -> None:
    store.put((user, "pets", "dogs"), "rex", {"text": "Rex is a brown dog who likes the beach", "age": 3})
    store.put((user, "pets", "cats"), "tom", {"text": "Tom is a grey cat who sleeps all day", "age": 3})
    store.put((user, "pets", "cats"), "kit", {"text": "Kit is a tiny kitten", "age": 1, "tags": ["a", "b"]})
    store.put((user, "work"), "desk", {"text": "a standing desk by the window", "age": 3})

    assert {i.key for i in store.search((user, "pets"))} == {"rex", "tom", "kit"}
    assert {i.key for i in store.search((user, "pets", "cats"))} == {"tom", "kit"}
    assert store.search((user, "*", "cats")) == []  # a search prefix is literal, as in LangGraph's stores
    assert {i.key for i in store.search((user,))} == {"rex", "tom", "kit", "desk"}
    assert {i.key for i in store.search((user, "pets"), filter={"age": 3})} == {"rex", "tom"}
    assert [i.key for i in store.search((user,), filter={"tags": ["a", "b"]})] == ["kit"]
    assert [i.key for i in store.search((user,), filter={"age": {"$lt": 2}})] == ["kit"]
    assert {i.key for i in store.search((user,), filter={"age": {"$ne": 3}})} == {"kit"}
    assert store.search((user, "pets"), filter={"age": 7}) == []

    ranked = store.search((user, "pets"), query="which animal enjoys the sea shore?")
    assert ranked[0].key == "rex" and all(0 < (i.score or 0) <= 1 for i in ranked)
    assert ranked == sorted(ranked, key=lambda i: i.score or 0, reverse=True)
    assert "kit" not in {i.key for i in store.search((user,), query="kitten", filter={"age": 3})}
    assert [i.key for i in store.search((user,), query="a pet", filter={"tags": ["a", "b"]})] == ["kit"]
    assert [i.key for i in store.search((user,), query="a pet", filter={"age": 3}, limit=1)] in (
        ["rex"],
        ["tom"],
        ["desk"],
    )
    assert store.search((user,), query="a pet", limit=0) == [] and store.search((user,), limit=0) == []

    everything = [i.key for i in store.search((user,), limit=10)]
    assert [i.key for i in store.search((user,), limit=2, offset=1)] == everything[1:3]
    assert everything[0] == "desk"  # the most recently updated first


def test_list_namespaces_with_prefix_suffix_and_depth(store: MemBankStore, user: str) -> None:
    for namespace in [(user, "a", "x"), (user, "a", "y"), (user, "b", "x"), (user, "b")]:
        store.put(namespace, "k", {"n": 1})

    assert store.list_namespaces(prefix=(user,)) == sorted(
        [(user, "a", "x"), (user, "a", "y"), (user, "b"), (user, "b", "x")]
    )
    assert store.list_namespaces(prefix=(user, "a")) == [(user, "a", "x"), (user, "a", "y")]
    assert store.list_namespaces(prefix=(user,), suffix=("x",)) == [(user, "a", "x"), (user, "b", "x")]
    assert store.list_namespaces(prefix=(user, "*", "y")) == [(user, "a", "y")]
    assert store.list_namespaces(prefix=(user,), max_depth=2) == [(user, "a"), (user, "b")]
    assert store.list_namespaces(prefix=(user,), limit=1, offset=1) == [(user, "a", "y")]
    with pytest.raises(ValueError, match="needs a prefix naming the user"):
        store.list_namespaces(suffix=("x",))


def test_a_store_with_a_fixed_user_keeps_whole_namespaces_in_it(client: MemBank, user: str) -> None:
    store = MemBankStore(client, user_id=user)
    store.put(("memories", "alice"), "k", {"text": "alice likes tea"})
    store.put(("memories", "bob"), "k", {"text": "bob likes coffee"})

    assert store.list_namespaces() == [("memories", "alice"), ("memories", "bob")]
    assert {i.namespace for i in store.search(())} == {("memories", "alice"), ("memories", "bob")}
    found = store.get(("memories", "bob"), "k")
    assert found is not None and found.value == {"text": "bob likes coffee"}
    assert {m.user_id for m in client.memories.list(user).memories} == {user}


def test_another_tenant_sees_none_of_the_items(
    store: MemBankStore, server: Served, other_tenant_key: str, user: str
) -> None:
    store.put((user, "secrets"), "pin", {"text": "the PIN is 4242"})

    with MemBank(server.url, api_key=other_tenant_key) as other_client:
        other = MemBankStore(other_client)
        assert other.get((user, "secrets"), "pin") is None
        assert other.search((user,)) == []
        assert other.search((user,), query="what is the PIN") == []
        assert other.list_namespaces(prefix=(user,)) == []
        other.put((user, "secrets"), "pin", {"text": "overwritten?"})  # their own user of that name

    kept = store.get((user, "secrets"), "pin")
    assert kept is not None and kept.value == {"text": "the PIN is 4242"}


def test_memories_that_are_not_items_are_left_out(store: MemBankStore, client: MemBank, user: str) -> None:
    client.memories.create(user, "a memory stored by another application", metadata={"value": {"n": 1}})
    store.put((user, "x"), "k", {"n": 1})

    assert [i.key for i in store.search((user,))] == ["k"]
    assert [i.key for i in store.search((user,), query="memory stored by another application")] == ["k"]
    assert store.list_namespaces(prefix=(user,)) == [(user, "x")]


@pytest.mark.parametrize(
    "key",
    ["a b", "A", "ключ/🔑", "100%", 'quote"s and \\ backslash', "line\nbreak", "*", "x" * 2000],
)
def test_odd_keys_round_trip_and_never_collide(store: MemBankStore, user: str, key: str) -> None:
    namespace = (user, "odd")
    store.put(namespace, "a", {"which": "plain a"})
    store.put(namespace, key, {"which": key})

    found = store.get(namespace, key)
    assert found is not None and (found.key, found.value) == (key, {"which": key})
    plain = store.get(namespace, "a")
    assert plain is not None and plain.value == {"which": "plain a"}
    assert store.get((user, "odd", "deeper"), key) is None and store.get((user,), key) is None


def test_hostile_namespaces_values_and_options_are_refused_clearly(
    store: MemBankStore, client: MemBank, user: str
) -> None:
    with pytest.raises(InvalidNamespaceError, match="empty"):
        store.put((), "k", {"n": 1})
    with pytest.raises(InvalidNamespaceError, match="MemBank user id"):
        store.batch([PutOp((), "k", {"n": 1})])  # a batch skips BaseStore.put's own check
    with pytest.raises(InvalidNamespaceError, match="MemBank user id"):
        store.put(("-not a user-", "x"), "k", {"n": 1})
    with pytest.raises(InvalidNamespaceError, match="periods"):
        store.batch([PutOp((user, "a.b"), "k", {"n": 1})])
    with pytest.raises(InvalidNamespaceError, match="at most"):
        store.put((user, *["deep"] * 60), "k", {"n": 1})
    with pytest.raises(NotImplementedError, match="TTL"):
        store.batch([PutOp((user, "x"), "k", {"n": 1}, ttl=5.0)])
    with pytest.raises(ValidationFailed, match="max_metadata_bytes"):
        store.put((user, "x"), "huge", {"text": "x" * 20_000})
    assert client.memories.list(user).total == 0  # nothing was stored by any of them


def test_index_fields_choose_the_searched_text(store: MemBankStore, client: MemBank, user: str) -> None:
    store.put(
        (user, "docs"),
        "a",
        {"title": "Trip", "body": {"summary": "flights to Tokyo"}},
        index=["body.summary"],
    )
    store.put((user, "docs"), "b", {"memory": "likes jazz"})
    store.put((user, "docs"), "c", {"n": 1, "ok": True})

    by_key = {m.metadata["langgraph"]["key"]: m.content for m in client.memories.list(user).memories}
    assert by_key == {"a": "flights to Tokyo", "b": "likes jazz", "c": '{"n": 1, "ok": true}'}


async def test_a_store_needs_a_client_of_the_kind_it_is_used_with(client: MemBank) -> None:
    with pytest.raises(ValueError, match="needs a MemBank client"):
        MemBankStore()
    with pytest.raises(ValueError, match="not a MemBank user id"):
        MemBankStore(client, user_id="bad user")
    with pytest.raises(RuntimeError, match="without an AsyncMemBank client"):
        await MemBankStore(client).aget(("u", "x"), "k")


async def test_a_search_without_a_query_reads_across_pages(store: MemBankStore, user: str) -> None:
    for i in range(120):
        await store.aput((user, "many"), f"k{i:03}", {"i": i})

    newest_first = [f"k{i:03}" for i in reversed(range(120))]
    assert [i.key for i in await store.asearch((user, "many"), limit=5, offset=110)] == newest_first[110:115]
    assert [i.key for i in await store.asearch((user,), filter={"i": 3})] == ["k003"]
    assert await store.alist_namespaces(prefix=(user,)) == [(user, "many")]
